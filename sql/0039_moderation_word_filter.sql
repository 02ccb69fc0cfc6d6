-- Why: the chat word filter (engine/rooms/chat.py) read only CHAT_BLOCKED_WORDS from the config,
-- so changing it took a restart of every engine process. The moderation dashboard (issue 15 §5)
-- edits it here instead: the filter is the config's words plus these rows. Every change NOTIFYs the
-- hot cache's channel with the topic "chat_words" (statement-level: one notification per edit), and
-- each engine process forgets its copy (engine/rooms/cache.py HotCache.blocked_words), so the next
-- chat message is checked against the new list in every process.

CREATE TABLE chat_blocked_words (
    word       text PRIMARY KEY CHECK (word = lower(word) AND length(word) BETWEEN 1 AND 64),
    created_by bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION flylive_chat_words_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('flylive_cache', 'chat_words');
    RETURN NULL;
END
$$;

CREATE TRIGGER chat_blocked_words_cache_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON chat_blocked_words
    FOR EACH STATEMENT EXECUTE FUNCTION flylive_chat_words_notify();
