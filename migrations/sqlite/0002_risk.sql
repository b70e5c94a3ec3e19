-- stored risk scores, recomputed after every import, so sorting by risk is an index scan.
-- risk_words: the factors in words, strongest first; risk_rules: ",rule,rule," for counting.
alter table access_grant add column risk_score bigint not null default 0;
alter table access_grant add column risk_words text not null default '';
alter table access_grant add column risk_rules text not null default '';
alter table identity add column risk_score bigint not null default 0;
create index access_grant_risk on access_grant (risk_score, access_grant_id);
create index identity_risk on identity (risk_score, identity_id);
create index identity_department on identity (department);
-- the identities page's commonest filters answer from the index alone.
create index identity_kind_owner on identity (kind, owner, ended_at);
