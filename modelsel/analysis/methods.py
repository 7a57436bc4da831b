"""What each interval and test that runs is called, in one table: the record, the HTML and the README
name a method only from here, and only the methods a run actually used. (The record once named a
"bootstrap-t for graded scores" and "the cluster-robust t from 30 clusters on" long after neither ran.)"""

from __future__ import annotations

from collections.abc import Iterable

# A quality interval's method (QualityFigures.method): (short name for tables, what it is).
QUALITY = {
    "exact": ("exact", "exact binomial (Clopper-Pearson) for pass/fail scores"),
    "exact_clustered": ("exact, clusters", "exact binomial at the clusters' effective sample size (CR2 design "
                                           "effect, Korn-Graubard degrees of freedom; all right or all wrong: over "
                                           "the clusters) for pass/fail scores in clusters"),
    "bounded_betting": ("betting", "the betting interval for bounded scores (Waudby-Smith and Ramdas 2024), "
                                   "valid for every distribution on [0, 1], for graded scores"),
    "cluster_betting": ("betting, clusters", "the betting interval over the clusters' size-weighted means "
                                             "(each cluster one draw), for graded scores in clusters"),
    "cluster_t": ("cluster t", "the cluster-robust t (CR2, Bell-McCaffrey degrees of freedom)"),
    "judge_rogan_gladen": ("judge-corrected", "the share of answers the judge passed, corrected for its sensitivity "
                                              "and specificity on the judge_check set (Rogan-Gladen), the three "
                                              "95% intervals (the judged share's, exact ones for sensitivity and "
                                              "specificity) recovered into one by MOVER"),
    "t": ("t", "the t interval"),
    "bootstrap_t": ("bootstrap-t", "the studentized bootstrap"),
}

# The cost-per-request interval's method (CostFigures.interval_method): (short name, what it is).
COST = {
    "bootstrap_t+lognormal_pivot": ("bootstrap + lognormal pivot", "the union of the studentized bootstrap and a "
                                    "generalized pivotal interval with the output tokens' cost as delta-lognormal, "
                                    "for the mean cost per request (heavy-tailed output lengths)"),
    "bootstrap_t": ("studentized bootstrap", "the studentized bootstrap, for the mean cost per request"),
    "lognormal_pivot": ("lognormal pivot", "a generalized pivotal interval with the output tokens' cost as "
                                           "delta-lognormal, for the mean cost per request"),
    "bootstrap_t+lognormal_pivot+capped_betting": (
        "bootstrap + lognormal pivot + capped betting", "the union of the studentized bootstrap, the lognormal pivot "
        "and the betting interval for bounded means with a call's cost capped at max_tokens, for the mean cost per "
        "request (a long tail the sample never drew stays inside it)"),
    "lognormal_pivot+capped_betting": ("lognormal pivot + capped betting", "the union of the lognormal pivot and "
                                       "the betting interval for bounded means with a call's cost capped at "
                                       "max_tokens, for the mean cost per request"),
    "bootstrap_t+capped_betting": ("bootstrap + capped betting", "the union of the studentized bootstrap and the "
                                   "betting interval for bounded means with a call's cost capped at max_tokens, for "
                                   "the mean cost per request"),
}

# A paired comparison's test (Comparison.test): (short name, what it is). Each interval inverts it.
TESTS = {
    "tango_score": ("Tango score", "Tango's score test for paired pass/fail answers"),
    "paired_t": ("paired t", "the paired t test for graded scores"),
    "bounded_betting": ("bounded (betting)", "the betting test for bounded differences (every difference the same)"),
    "cluster_signflip": ("cluster sign-flip", "the cluster sign-flip test (every clustered comparison, any number "
                                              "of clusters)"),
    "cluster_t": ("cluster-robust t", "the cluster-robust t test"),
    "welch_t": ("Welch t", "Welch's t test"),
}

# A live trial's confidence sequence (a trial signal's method; analysis/sequential.py): (short name, what it is).
TRIAL = {
    "eb": ("empirical Bernstein CS", "the predictable plug-in empirical-Bernstein confidence sequence "
           "(Waudby-Smith and Ramdas 2024) on paired differences (each challenger request against the mean of the "
           "next block of incumbent requests, in arrival order), valid at every look for any rates, for thumbs-down "
           "and errors"),
    "quantile": ("quantile CS", "the quantile confidence sequence (Howard and Ramdas 2022), distribution-free and "
                 "valid at every look, for median latency"),
    "asymptotic": ("asymptotic CS", "the asymptotic confidence sequence (Waudby-Smith, Arnold, Wu, McAuliffe and "
                   "Ramdas 2024), valid at every look as the count grows (from 100 calls an arm), for any distribution "
                   "with a finite variance, for the mean cost per request"),
}


def short(table: dict[str, tuple[str, str]], key: str) -> str:
    return table.get(key, (key, key))[0]


def sentence(table: dict[str, tuple[str, str]], used: Iterable[str]) -> str:
    """The methods that ran, in the table's order, as one clause; empty when none did."""
    seen = set(used)
    return "; ".join(text for key, (_, text) in table.items() if key in seen)


def readme_rows() -> list[str]:
    """The README's table of methods, made from this one (tests/test_schema_docs.py holds them equal)."""
    rows = [f"| quality interval | `{k}` | {text} |" for k, (_, text) in QUALITY.items()]
    rows += [f"| paired comparison | `{k}` | {text} |" for k, (_, text) in TESTS.items()]
    rows += [f"| cost per request | `{k}` | {text} |" for k, (_, text) in COST.items()]
    rows += [f"| live trial | `{k}` | {text} |" for k, (_, text) in TRIAL.items()]
    return rows
