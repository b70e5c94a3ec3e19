-- how many other identities held the same entitlement when the campaign launched, frozen with
-- the rest of the item (null for items launched before it was kept; those count live).
alter table review_item add column peers bigint;

-- a reviewer's open and decided counts, read from the index alone.
create index review_item_reviewer_counts on review_item (reviewer_id, outcome, campaign_id, stage, decision);

-- a reviewer's queue, riskiest first and then in item order, read from the index in order.
drop index review_item_queue;
create index review_item_queue on review_item (reviewer_id, outcome, risk_score desc, item_id);
