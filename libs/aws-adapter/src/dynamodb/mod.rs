//! DynamoDB: the attribute table (GetItem, parallel Scan) and the predictions table
//! (BatchWriteItem), the outcomes table (BatchWriteItem, Query on its arrival index), as the
//! store traits. Items become the domain's rows here (in `item`) and
//! nowhere else. This module only declares and re-exports: no child imports its parent.

mod attributes;
mod item;
mod outcomes;
mod predictions;
mod scan;

pub use attributes::DynamoDbAttributes;
pub use item::{row, value, Item};
pub use outcomes::{
    outcome_from_item, outcome_item, DynamoDbOutcomes, BY_ARRIVAL, MAX_ARRIVAL_DAYS,
};
pub use predictions::{
    prediction_from_item, prediction_item, write_requests, DynamoDbPredictions, GETS_IN_FLIGHT,
    MAX_GET,
};
pub use scan::{scanned_row, DynamoDbScan};
