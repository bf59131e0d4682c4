//! The rule catalog and the launch-mode recommendation: pure functions from facts to findings.
