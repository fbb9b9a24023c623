-- Agent desk: a web user linked to the extension they take queue calls on (at most one each way).
CREATE TABLE web_user_extensions (
    user_id   INTEGER PRIMARY KEY REFERENCES web_users(id) ON DELETE CASCADE,
    extension TEXT NOT NULL UNIQUE REFERENCES extensions(number) ON DELETE CASCADE
);
