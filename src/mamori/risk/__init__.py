"""Pure risk engine: login features, frequency tables, Freeman-style scoring, the decision.

Nothing here does I/O or reads the clock: the shell gathers counts from the store, the scorer
turns them into an `Assessment`, `decide` turns that and the account's signals into a `Verdict`
(a test parses the imports).

    features.py     LoginFeatures (one login, as the scorer sees it); levels and hierarchies
    frequencies.py  FrequencyView (the counts the scorer reads), MemoryFrequencies, snapshots
    scoring.py      ScoringConfig, score_login -> Assessment (the likelihood-ratio model)
    assessment.py   Assessment, RiskLevel
    policy.py       RiskPolicy (thresholds), decide -> Verdict
"""
