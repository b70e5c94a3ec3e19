-- each grant's score in a narrow table of its own, one row per grant (0 once it ended), with
-- the risk index beside it: a change of weights then rewrites a few bytes per grant instead of
-- every grant's whole row with its explanation.
create table grant_score (
    access_grant_id integer primary key references access_grant (access_grant_id),
    risk_score bigint not null
);
insert into grant_score (access_grant_id, risk_score) select access_grant_id, risk_score from access_grant;
drop index access_grant_risk;
alter table access_grant drop column risk_score;
create index grant_score_risk on grant_score (risk_score, access_grant_id);
