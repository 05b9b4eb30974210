use super::*;

fn outcome(subject: Subject, observed: Observed, observed_at: &str) -> Outcome {
    Outcome {
        subject,
        observed,
        observed_at: observed_at.into(),
        received_at: "2026-12-07T21:30:00.123Z".into(),
    }
}

fn product(id: &str) -> Subject {
    Subject::Product(id.into())
}

#[test]
fn an_outcome_round_trips_through_its_item() {
    for (subject, observed) in [
        (product("wine-0001"), Observed::Number(5.5)),
        (product("a#b"), Observed::Label("good".into())),
        (
            Subject::Request {
                id: "req#1".into(),
                row: 7,
            },
            Observed::Number(-1e-300),
        ),
    ] {
        let o = outcome(subject, observed, "2026-12-07T20:00:00.000Z");
        let item = outcome_item(&o, 400).unwrap();
        let back = outcome_from_item(&item).unwrap();
        match o.observed {
            // Below DynamoDB's smallest magnitude: stored as 0, not refused with the batch.
            Observed::Number(n) if n.abs() < 1e-130 => {
                assert_eq!(back.observed, Observed::Number(0.0))
            }
            _ => assert_eq!(back, o),
        }
    }
}

#[test]
fn the_item_has_the_contracts_layout() {
    let o = outcome(
        Subject::Request {
            id: "abc".into(),
            row: 3,
        },
        Observed::Label("churned".into()),
        "2026-12-07T20:00:00.000Z",
    );
    let item = outcome_item(&o, 400).unwrap();
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "expires_at",
            "observed_at",
            "outcome_s",
            "received_at",
            "received_on",
            "subject"
        ]
    );
    assert_eq!(item["subject"], AttributeValue::S("r#abc#3".into()));
    assert_eq!(item["received_on"], AttributeValue::S("2026-12-07".into()));
    // 2026-12-07T21:30:00Z is 1796679000 s (`date -d ... +%s`); 400 days later.
    assert_eq!(
        item["expires_at"],
        AttributeValue::N((1_796_679_000i64 + 400 * 86_400).to_string())
    );
    let number = outcome(
        product("p"),
        Observed::Number(6.0),
        "2026-12-07T20:00:00.000Z",
    );
    let item = outcome_item(&number, 1).unwrap();
    assert_eq!(item["outcome_n"], AttributeValue::N("6".into()));
    assert!(!item.contains_key("outcome_s"));
}

#[test]
fn an_item_that_is_not_an_outcome_is_none() {
    let good = outcome_item(
        &outcome(
            product("p"),
            Observed::Number(1.0),
            "2026-12-07T20:00:00.000Z",
        ),
        1,
    )
    .unwrap();
    for (key, value) in [
        ("subject", AttributeValue::S("x#p".into())),
        ("subject", AttributeValue::S("r#id-without-row".into())),
        ("subject", AttributeValue::S("r#id#-1".into())),
        ("outcome_n", AttributeValue::S("1".into())),
        ("outcome_s", AttributeValue::S("both".into())),
    ] {
        let mut item = good.clone();
        item.insert(key.into(), value);
        assert_eq!(outcome_from_item(&item), None, "{key}");
    }
    let mut item = good.clone();
    item.remove("observed_at");
    assert_eq!(outcome_from_item(&item), None);
}

#[test]
fn a_range_covers_its_days_and_is_bounded() {
    let range = |since: &str, until: &str| {
        let (s, first) = as_written(since, 0).unwrap();
        let (u, last) = as_written(until, -1).unwrap();
        days((&s, first), (&u, last))
    };
    assert_eq!(
        range("2026-12-30T23:00:00Z", "2027-01-02T01:00:00+01:00").unwrap(),
        ["2026-12-30", "2026-12-31", "2027-01-01"]
    );
    assert_eq!(
        range("2026-12-07T00:00:00Z", "2026-12-07T02:00:00Z").unwrap(),
        ["2026-12-07"]
    );
    assert_eq!(
        range("2025-01-01T00:00:00Z", "2026-02-05T00:00:00Z")
            .unwrap()
            .len(),
        400
    );
    let err = range("2025-01-01T00:00:00Z", "2026-02-05T00:00:00.001Z").unwrap_err();
    assert!(err.to_string().contains("401 days"), "{err}");
    assert_eq!(
        as_written("2026-12-07T01:00:00+01:00", 0).unwrap().0,
        "2026-12-07T00:00:00.000Z"
    );
    assert!(as_written("yesterday", 0).is_err());
}

#[test]
fn unprocessed_requests_are_handed_back_as_outcomes() {
    let batch = [
        outcome(
            product("a"),
            Observed::Number(1.0),
            "2026-12-07T20:00:00.000Z",
        ),
        outcome(
            product("a"),
            Observed::Number(2.0),
            "2026-12-07T20:00:01.000Z",
        ),
        outcome(
            product("b"),
            Observed::Number(3.0),
            "2026-12-07T20:00:00.000Z",
        ),
    ];
    let request = |o: &Outcome| {
        WriteRequest::builder()
            .put_request(
                PutRequest::builder()
                    .set_item(Some(outcome_item(o, 1).unwrap()))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    assert_eq!(unwritten(&batch, &[]), []);
    assert_eq!(
        unwritten(&batch, &[request(&batch[1]), request(&batch[2])]),
        batch[1..]
    );
}

#[test]
fn a_key_given_twice_is_written_once_the_last_given() {
    let batch = [
        outcome(
            product("a"),
            Observed::Number(1.0),
            "2026-12-07T20:00:00.000Z",
        ),
        outcome(
            product("b"),
            Observed::Number(2.0),
            "2026-12-07T20:00:00.000Z",
        ),
        outcome(
            product("a"),
            Observed::Number(3.0),
            "2026-12-07T20:00:00.000Z",
        ),
    ];
    let kept = last_per_key(&batch);
    assert_eq!(kept, [&batch[1], &batch[2]]);
}
