-- Why: roles and permissions are data the code depends on (engine/auth/permissions.py names them),
-- so they ship with the schema rather than with the optional demo seed. Legacy Spatie permission
-- names are kept so the legacy `can` map in GET /api/user still means what clients expect.

INSERT INTO roles (name, description) VALUES
    ('super_admin', 'Everything, including granting admin roles'),
    ('admin',       'Runs the platform'),
    ('moderator',   'Moderates users and rooms'),
    ('finance',     'Economy, payouts and coin requests'),
    ('support',     'Helps users with their accounts'),
    ('reseller',    'Sells coins to users'),
    ('user',        'An ordinary account');

INSERT INTO permissions (name, description) VALUES
    ('viewAnyUser',        'Legacy: list users'),
    ('viewUser',           'Legacy: view a user'),
    ('viewAnyFrame',       'Legacy: list frames'),
    ('viewAnyCoinRequest', 'Legacy: list coin requests'),
    ('createCoinRequest',  'Legacy: ask for coins'),
    ('updateCoinRequest',  'Legacy: approve or reject coin requests'),
    ('users.view',         'See private account fields and history'),
    ('users.suspend',      'Suspend, ban and reinstate accounts'),
    ('users.reset_password', 'Issue password resets for other users'),
    ('roles.assign',       'Grant and remove roles below admin'),
    ('roles.assign_admin', 'Grant and remove admin roles'),
    ('audit.view',         'Read the audit log'),
    ('rooms.moderate',     'Moderate any room'),
    ('economy.grant',      'Mint or burn coins by admin grant'),
    ('finance.view',       'See ledgers, orders and reports'),
    ('catalog.manage',     'Edit gifts, frames, themes and packages'),
    ('settings.manage',    'Change platform settings');

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r CROSS JOIN permissions p
WHERE r.name = 'super_admin'
   OR (r.name = 'admin' AND p.name <> 'roles.assign_admin')
   OR (r.name = 'moderator' AND p.name IN ('users.view', 'viewUser', 'viewAnyUser', 'users.suspend',
                                           'rooms.moderate', 'audit.view'))
   OR (r.name = 'finance' AND p.name IN ('users.view', 'viewUser', 'viewAnyUser', 'finance.view',
                                         'economy.grant', 'viewAnyCoinRequest', 'updateCoinRequest',
                                         'audit.view'))
   OR (r.name = 'support' AND p.name IN ('users.view', 'viewUser', 'viewAnyUser',
                                         'users.reset_password'))
   OR (r.name = 'reseller' AND p.name IN ('viewAnyCoinRequest', 'createCoinRequest'));
