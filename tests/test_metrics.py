import pytest

from overlay.analysis.metrics import classification_report


def test_scores_match_a_hand_computed_example() -> None:
    # Three labels for readability: a, b, c.
    true = [0, 0, 0, 1, 1, 2]
    predicted = [0, 0, 1, 1, 2, 2]
    report = classification_report(true, predicted, labels=("a", "b", "c"))
    assert report.n == 6
    assert report.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert report.accuracy == pytest.approx(4 / 6)
    a, b, c = (report.per_class[k] for k in "abc")
    assert [a.precision, a.recall, a.support] == pytest.approx([1.0, 2 / 3, 3])
    assert [b.precision, b.recall, b.support] == pytest.approx([0.5, 0.5, 2])
    assert [c.precision, c.recall, c.support] == pytest.approx([0.5, 1.0, 1])
    assert a.f1 == pytest.approx(0.8)
    assert b.f1 == pytest.approx(0.5)
    assert c.f1 == pytest.approx(2 / 3)
    assert report.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_absent_class_is_left_out_of_macro_f1_but_costs_precision() -> None:
    # Class c never occurs but is predicted once.
    report = classification_report([0, 0, 1, 1], [0, 2, 1, 1], labels=("a", "b", "c"))
    assert report.per_class["c"].support == 0
    assert report.per_class["a"].recall == pytest.approx(0.5)
    assert report.macro_f1 == pytest.approx((2 / 3 + 1.0) / 2)


def test_json_has_the_evaluation_interface_fields() -> None:
    data = classification_report([0, 1], [0, 1]).to_json()
    assert set(data) == {"n", "accuracy", "macro_f1", "labels", "per_class", "confusion"}
    assert data["labels"][0] == "angry"
    assert set(data["per_class"]["angry"]) == {"precision", "recall", "f1", "support"}
    assert len(data["confusion"]) == 7


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(ValueError):
        classification_report([0, 1], [0])
