// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// The last canary's gauges: the step it reached and that step's figures, old against new, so a
/// dashboard shows what decided it.
enum CanaryMetrics {
    static func samples(env: String, canary: CanaryReport, finishedAt: Double) -> [MetricSample] {
        var samples = [
            MetricSample("opsctl_canary_last_run_timestamp_seconds", "When the last canary deploy ended.", labels: [("env", env)], finishedAt),
            MetricSample("opsctl_canary_last_withdrawn", "1 when the last canary was withdrawn (a step crossed a limit, or a signal).",
                         labels: [("env", env)], canary.outcome == .withdrawn ? 1 : 0),
            MetricSample("opsctl_canary_last_steps_passed", "Steps the last canary passed.", labels: [("env", env)],
                         Double(canary.steps.filter { $0.verdict == .passed }.count)),
        ]
        guard let step = canary.steps.last else { return samples }
        samples.append(MetricSample("opsctl_canary_last_share_percent", "The share of live traffic the last canary's last watched step gave the new release.",
                                    labels: [("env", env)], Double(step.share)))
        for (release, figures) in [("old", step.old), ("new", step.new)] {
            let labels = [("env", env), ("release", release)]
            samples.append(MetricSample("opsctl_canary_last_requests", "Requests in the last canary's last watched step, by release.", labels: labels, Double(figures.requests)))
            samples.append(MetricSample("opsctl_canary_last_errors", "5xx answers in the last canary's last watched step, by release.", labels: labels, Double(figures.errors)))
            if let p99 = figures.p99Ms {
                samples.append(MetricSample("opsctl_canary_last_p99_seconds", "p99 request time in the last canary's last watched step, by release.", labels: labels, p99 / 1000))
            }
        }
        return samples
    }
}
