//! The AWS clients, built once per sandbox with one retry policy: the SDK's own standard
//! retry mode (exponential backoff with full jitter) for every transient failure, with
//! bounded attempts per kind of function. An interceptor counts the SDK's
//! retries so that a run can report them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::retry::{RetryConfig, RetryPartition, TokenBucket};
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

/// How hard a client tries before a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// The first backoff's ceiling; it doubles per retry up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub connect_timeout: Duration,
    /// One attempt, from sending the request to the answer's headers: a stalled call is
    /// abandoned and retried.
    pub attempt_timeout: Duration,
    /// The whole call, every attempt and backoff included: what a caller can wait at most.
    pub operation_timeout: Duration,
    /// The SDK's retry quota (a token bucket shared by the client's calls) stops retries
    /// when many calls fail at once. Kept for a request path, where failing fast beats
    /// piling on; lifted for a batch run, where `max_attempts` alone should bound a call.
    pub retry_quota: bool,
}

impl CallPolicy {
    /// The online function: a caller is waiting. A call gives up after 5 s at most, half
    /// the function's 10 s timeout (template.yaml), so that a stalled DynamoDB is answered
    /// with the function's own JSON 503, not API Gateway's bare error.
    pub const ONLINE: CallPolicy = CallPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        connect_timeout: Duration::from_secs(1),
        attempt_timeout: Duration::from_secs(2),
        operation_timeout: Duration::from_secs(5),
        retry_quota: true,
    };

    /// The batch function: throughput limits are expected and waited out. An attempt may
    /// take long (a Scan page from a loaded table), but no call outlives two minutes; the
    /// invocation's own deadline guard (batch::guard) bounds whatever is left.
    pub const BATCH: CallPolicy = CallPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(3),
        attempt_timeout: Duration::from_secs(30),
        operation_timeout: Duration::from_secs(120),
        retry_quota: false,
    };

    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }

    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    /// The retry partition: the SDK's default quota, or none.
    pub fn retry_partition(&self, service: &'static str) -> RetryPartition {
        if self.retry_quota {
            RetryPartition::new(service)
        } else {
            RetryPartition::custom(service)
                .token_bucket(TokenBucket::unlimited())
                .build()
        }
    }
}

/// Applies a [`CallPolicy`] and the retry counter to a service's config builder: the one
/// place a client's retries are set, for the functions and for the fault tests alike.
#[macro_export]
macro_rules! configure {
    ($builder:expr, $policy:expr, $retries:expr, $service:literal) => {
        $builder
            .retry_config($policy.retry_config())
            .timeout_config($policy.timeout_config())
            .retry_partition($policy.retry_partition($service))
            .interceptor($retries.clone())
    };
}

/// Counts the SDK's calls and their attempts: every attempt after a call's first is a
/// retry, whatever the service and whatever caused it.
#[derive(Debug, Clone, Default)]
pub struct SdkRetries(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    calls: AtomicU64,
    attempts: AtomicU64,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Intercept for SdkRetries {
    fn name(&self) -> &'static str {
        "SdkRetries"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.calls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.attempts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl store::RetryCount for SdkRetries {
    fn retries(&self) -> u64 {
        let attempts = self.0.attempts.load(Ordering::Relaxed);
        attempts.saturating_sub(self.0.calls.load(Ordering::Relaxed))
    }
}

/// The clients a function uses, sharing one configuration, policy and retry counter.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub retries: SdkRetries,
    shared: SdkConfig,
    policy: CallPolicy,
}

impl AwsClients {
    /// From the standard configuration chain: `AWS_REGION`, credentials, and
    /// `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`, `_DYNAMODB`, `_SFN`), which is how
    /// a local emulator is reached with no code for it.
    pub async fn from_env(policy: CallPolicy) -> AwsClients {
        let shared = aws_config::load_defaults(BehaviorVersion::latest()).await;
        AwsClients::new(&shared, policy)
    }

    pub fn new(shared: &SdkConfig, policy: CallPolicy) -> AwsClients {
        let retries = SdkRetries::default();
        let s3 = configure!(
            aws_sdk_s3::config::Builder::from(shared),
            policy,
            retries,
            "s3"
        );
        let dynamodb = configure!(
            aws_sdk_dynamodb::config::Builder::from(shared),
            policy,
            retries,
            "dynamodb"
        );
        AwsClients {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            retries,
            shared: shared.clone(),
            policy,
        }
    }

    /// A Step Functions client under the same policy and counter (only the batch's
    /// planner needs one).
    pub fn step_functions(&self) -> aws_sdk_sfn::Client {
        let config = configure!(
            aws_sdk_sfn::config::Builder::from(&self.shared),
            self.policy,
            self.retries,
            "sfn"
        );
        aws_sdk_sfn::Client::from_conf(config.build())
    }
}

/// What makes the standard configuration chain resolve something other than the
/// environment's region, credentials and endpoint: with any of these set, the model is
/// downloaded with the shared clients, not the early one.
const NEEDS_THE_CHAIN: &[&str] = &[
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_S3_USE_ARN_REGION",
];

/// An S3 client for the cold start's model download, built from what Lambda's environment
/// gives every function (`AWS_REGION`, the role's credentials in `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, and `AWS_ENDPOINT_URL_S3` or
/// `AWS_ENDPOINT_URL` where set) under `policy`, without the standard chain: so the
/// download starts while [`AwsClients::from_env`] is still loading the shared
/// configuration, and the model is built by the time the clients are. `None` when the
/// environment asks for more than that (a profile, FIPS or dual-stack endpoints, a web
/// identity...): the model is then downloaded with the shared clients, after them.
pub fn early_s3_client(
    lookup: impl Fn(&str) -> Option<String>,
    policy: CallPolicy,
    retries: &SdkRetries,
) -> Option<aws_sdk_s3::Client> {
    let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    if NEEDS_THE_CHAIN.iter().any(|name| set(name).is_some()) {
        return None;
    }
    let region = set("AWS_REGION").or_else(|| set("AWS_DEFAULT_REGION"))?;
    let credentials = aws_sdk_s3::config::Credentials::new(
        set("AWS_ACCESS_KEY_ID")?,
        set("AWS_SECRET_ACCESS_KEY")?,
        set("AWS_SESSION_TOKEN"),
        None,
        "Environment",
    );
    let mut builder = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(region))
        .credentials_provider(credentials);
    if let Some(endpoint) = set("AWS_ENDPOINT_URL_S3").or_else(|| set("AWS_ENDPOINT_URL")) {
        builder = builder.endpoint_url(endpoint);
    }
    let builder = configure!(builder, policy, retries, "s3");
    Some(aws_sdk_s3::Client::from_conf(builder.build()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    const LAMBDA: &[(&str, &str)] = &[
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIA"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
    ];

    #[test]
    fn the_early_client_is_made_from_lambdas_environment_only() {
        let retries = SdkRetries::default();
        let early = early_s3_client(lookup(LAMBDA), CallPolicy::ONLINE, &retries)
            .expect("Lambda's environment is enough");
        assert_eq!(
            early.config().region().map(|r| r.as_ref()),
            Some("eu-west-1")
        );
        // Without credentials or region in the environment, the chain must find them.
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let vars: Vec<_> = LAMBDA.iter().filter(|(k, _)| *k != missing).collect();
            let lookup = |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            };
            assert!(
                early_s3_client(lookup, CallPolicy::ONLINE, &retries).is_none(),
                "{missing}"
            );
        }
        // Settings the chain resolves otherwise: not for the early client.
        for chain in ["AWS_PROFILE", "AWS_USE_FIPS_ENDPOINT", "AWS_ROLE_ARN"] {
            let lookup = |name: &str| {
                if name == chain {
                    Some("set".to_owned())
                } else {
                    lookup(LAMBDA)(name)
                }
            };
            assert!(
                early_s3_client(lookup, CallPolicy::ONLINE, &retries).is_none(),
                "{chain}"
            );
        }
    }
}
