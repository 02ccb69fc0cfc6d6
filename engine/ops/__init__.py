"""Operations views for the dashboard (issue 15 §2 and §9): the overview's live figures, the
capacity of the fleet (sockets per engine process, Redis memory, PostgreSQL connections) and the
recent ERROR log lines of this process."""
