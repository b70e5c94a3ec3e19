//! The outbox (all SQL about mail and webhook deliveries), the templates and the scheduler's rules.

pub mod clock;
pub mod compose;
pub mod outbox;
pub mod scheduler;
pub mod webhooks;
