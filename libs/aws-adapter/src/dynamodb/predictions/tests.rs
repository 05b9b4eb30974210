use super::*;

fn prediction(answer: Answer, explanation: Option<TopContributions>) -> Prediction {
    Prediction {
        product_id: "wine-0042".into(),
        answer,
        model_version: "v1".into(),
        run_id: "nightly-2026-11-24T02:00:00Z".into(),
        scored_at: "2026-11-24T02:00:05.000Z".into(),
        explanation,
        challenger: None,
    }
}

fn classes(labels: &[&str], label: usize, probabilities: &[f32]) -> Answer {
    Answer::Class(ClassPrediction {
        classes: labels.iter().map(|l| Label::Text((*l).into())).collect(),
        label,
        probabilities: probabilities.to_vec(),
    })
}

fn top(space: Space, class: Option<Label>, values: &[(&str, f64)]) -> TopContributions {
    TopContributions {
        space,
        class,
        contributions: values.iter().map(|&(f, v)| (f.into(), v)).collect(),
    }
}

fn keys(item: &Item) -> Vec<&str> {
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[test]
fn a_result_without_an_explanation_is_stored_and_read_as_before() {
    let p = prediction(Answer::Score(5.25), None);
    let item = prediction_item(&p);
    assert_eq!(
        keys(&item),
        [
            "model_version",
            "product_id",
            "run_id",
            "score",
            "scored_at"
        ]
    );
    assert_eq!(prediction_from_item(&item), Some(p));
}

#[test]
fn top_contributions_round_trip_in_order_with_their_space() {
    let explained = top(
        Space::Score,
        None,
        &[
            ("alcohol", 0.4123456789012345),
            ("sulphates", -0.25),
            ("pH", 1e-9),
        ],
    );
    let p = prediction(Answer::Score(5.25), Some(explained));
    let item = prediction_item(&p);
    assert_eq!(item["explanation_space"], AttributeValue::S("score".into()));
    assert!(
        !item.contains_key("explained_class"),
        "a regressor has no class"
    );
    let list = item["contributions"].as_l().unwrap();
    assert_eq!(list.len(), 3);
    let first = list[0].as_m().unwrap();
    assert_eq!(first["feature"], AttributeValue::S("alcohol".into()));
    assert_eq!(
        first["value"],
        AttributeValue::N("0.4123456789012345".into())
    );
    assert_eq!(
        list[2].as_m().unwrap()["value"],
        AttributeValue::N("1e-9".into())
    );
    assert_eq!(prediction_from_item(&item), Some(p), "exact, in order");
}

#[test]
fn a_classifiers_explained_class_keeps_its_type() {
    for class in [Label::Int(1), Label::Text("good".into())] {
        let classes: Arc<[Label]> = match &class {
            Label::Int(_) => vec![Label::Int(0), Label::Int(1)].into(),
            Label::Text(_) => vec![Label::Text("bad".into()), Label::Text("good".into())].into(),
        };
        let answer = Answer::Class(ClassPrediction {
            classes,
            label: 1,
            probabilities: vec![0.25, 0.75],
        });
        let explained = top(
            Space::Margin,
            Some(class),
            &[("alcohol", 1.5), ("color", -0.5)],
        );
        let p = prediction(answer, Some(explained));
        let item = prediction_item(&p);
        assert_eq!(
            item["explanation_space"],
            AttributeValue::S("margin".into())
        );
        assert_eq!(prediction_from_item(&item), Some(p));
    }
}

#[test]
fn numbers_are_what_dynamodb_stores() {
    assert_eq!(number(-0.41), "-0.41");
    assert_eq!(number(12.0), "12");
    assert_eq!(number(1e-300), "0", "below DynamoDB's smallest magnitude");
    assert_eq!(number(-2.5e-120), "-2.5e-120");
    assert_eq!(number(3e20), "3e20");
    for v in [0.1 + 0.2, -1.0 / 3.0, 6.02e23, 1.5e-7] {
        assert_eq!(number(v).parse::<f64>().unwrap(), v, "{v} round trips");
    }
}

#[test]
fn a_malformed_explanation_is_not_a_stored_prediction() {
    let p = prediction(
        Answer::Score(5.25),
        Some(top(Space::Probability, None, &[("alcohol", 0.5)])),
    );
    let good = prediction_item(&p);
    assert_eq!(prediction_from_item(&good), Some(p));
    let mut no_space = good.clone();
    no_space.remove("explanation_space");
    let mut odd_space = good.clone();
    odd_space.insert("explanation_space".into(), AttributeValue::S("odds".into()));
    let mut not_a_list = good.clone();
    not_a_list.insert("contributions".into(), AttributeValue::S("alcohol".into()));
    let mut no_value = good.clone();
    no_value.insert(
        "contributions".into(),
        AttributeValue::L(vec![AttributeValue::M(Item::from([(
            "feature".to_owned(),
            AttributeValue::S("alcohol".into()),
        )]))]),
    );
    for bad in [no_space, odd_space, not_a_list, no_value] {
        assert_eq!(prediction_from_item(&bad), None, "{bad:?}");
    }
}

#[test]
fn a_challengers_answer_is_stored_beside_the_champions_which_stays_as_it_was() {
    let champions = [
        Answer::Score(5.25),
        classes(&["bad", "good"], 1, &[0.25, 0.75]),
    ];
    let challengers = [
        Answer::Score(6.5),
        classes(&["high", "low", "medium"], 2, &[0.125, 0.25, 0.625]),
        Answer::Class(ClassPrediction {
            classes: vec![Label::Int(0), Label::Int(1)].into(),
            label: 0,
            probabilities: vec![0.5, 0.5],
        }),
    ];
    for champion in &champions {
        let alone = prediction(champion.clone(), None);
        for challenger in &challengers {
            let mut both = alone.clone();
            both.challenger = Some(ChallengerAnswer {
                answer: challenger.clone(),
                model_version: "v2".into(),
            });
            let item = prediction_item(&both);
            let mut champion_part = item.clone();
            champion_part.retain(|k, _| !k.starts_with("challenger_"));
            assert_eq!(champion_part, prediction_item(&alone), "byte for byte");
            assert_eq!(item["challenger_version"], AttributeValue::S("v2".into()));
            match challenger {
                Answer::Score(_) => {
                    assert_eq!(item["challenger_score"], AttributeValue::N("6.5".into()));
                    assert!(!item.contains_key("challenger_label"));
                }
                Answer::Class(c) => {
                    assert_eq!(item["challenger_label"], label_value(c.label()));
                    assert_eq!(
                        item["challenger_probabilities"].as_m().unwrap().len(),
                        c.classes.len()
                    );
                    assert!(!item.contains_key("challenger_score"));
                }
            }
            assert_eq!(prediction_from_item(&item), Some(both), "read back");
        }
    }
}

#[test]
fn a_malformed_challenger_answer_is_left_out_and_the_champions_read() {
    let mut p = prediction(Answer::Score(5.25), None);
    p.challenger = Some(ChallengerAnswer {
        answer: Answer::Score(6.5),
        model_version: "v2".into(),
    });
    let good = prediction_item(&p);
    let champion_only = prediction(Answer::Score(5.25), None);
    let mut no_answer = good.clone();
    no_answer.remove("challenger_score");
    let mut odd_score = good.clone();
    odd_score.insert("challenger_score".into(), AttributeValue::S("high".into()));
    let mut no_version = good.clone();
    no_version.remove("challenger_version");
    for bad in [no_answer, odd_score, no_version] {
        assert_eq!(prediction_from_item(&bad), Some(champion_only.clone()));
    }
}
