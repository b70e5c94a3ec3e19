-- a hash of each grant's risk words, so scoring tells whether the words changed without
-- reading a million explanations back. 0 matches no words: the first scoring after this
-- migration writes every grant's hash once.
alter table access_grant add column risk_hash bigint not null default 0;
