-- the identities page's search: a trigram index over names, emails and ids, so that finding
-- "payments" anywhere in them reads the index instead of every identity. Kept in step with
-- the identity table by triggers.
create virtual table identity_search using fts5(
    display_name, email, external_id,
    content = 'identity', content_rowid = 'identity_id', tokenize = 'trigram'
);
insert into identity_search (identity_search) values ('rebuild');

create trigger identity_search_insert after insert on identity begin
    insert into identity_search (rowid, display_name, email, external_id)
    values (new.identity_id, new.display_name, new.email, new.external_id);
end;

create trigger identity_search_delete after delete on identity begin
    insert into identity_search (identity_search, rowid, display_name, email, external_id)
    values ('delete', old.identity_id, old.display_name, old.email, old.external_id);
end;

create trigger identity_search_update after update of display_name, email, external_id on identity begin
    insert into identity_search (identity_search, rowid, display_name, email, external_id)
    values ('delete', old.identity_id, old.display_name, old.email, old.external_id);
    insert into identity_search (rowid, display_name, email, external_id)
    values (new.identity_id, new.display_name, new.email, new.external_id);
end;
