//! Captured requests read back from the capture bucket: the objects Kinesis Data Firehose
//! delivered ([`S3Captures`], the [`store::capture::CaptureSource`]), and the same objects
//! downloaded to files ([`CaptureReader`], which both read through). This module only
//! declares and re-exports: no child imports its parent.

mod objects;
mod s3;

pub use objects::{CaptureReader, MAX_OBJECT_BYTES};
pub use s3::{parse_s3_uri, S3Captures, READ_CONCURRENCY};
