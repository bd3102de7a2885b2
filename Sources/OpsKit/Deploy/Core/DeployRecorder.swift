// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The record of a run: its ledger row from `running` to the outcome, and the metrics.
struct DeployRecorder {
    let ledger: Ledger
    let deps: DeployDependencies

    func begin(_ plan: DeployPlan, target: ReleaseTarget, previous: DeployedRelease?) throws(OpsError) -> Int64 {
        try ledger.beginDeployment(env: deps.environment.name, kind: plan.action, version: plan.version, previousVersion: previous?.version,
                                   gitCommit: plan.commit, image: plan.image, container: deps.driver.containerName(target.ref),
                                   actor: deps.context.actor, message: plan.options.message,
                                   strategy: deps.environment.strategy.rawValue, slot: target.slot?.name, at: deps.context.now())
    }

    func finish(id: Int64, _ report: DeployReport, logs: String?) throws(OpsError) {
        let status: DeploymentStatus = switch report.outcome {
        case .succeeded: .succeeded
        case .rolledBack: .rolledBack
        case .interrupted: .interrupted
        case .aborted: .aborted
        case .failed, .planned, .unchanged: .failed
        }
        try ledger.finishDeployment(id: id, status: status, reason: report.reason, logs: logs.map(deps.redactor.scrub), at: deps.context.now())
        writeMetrics(report)
    }

    func writeMetrics(_ report: DeployReport) {
        guard let directory = deps.environment.metrics?.textfileDir else { return }
        let env = deps.environment.name
        let now = deps.context.now().timeIntervalSince1970.rounded()
        var samples = [
            MetricSample("opsctl_deploy_last_run_timestamp_seconds", "When a deploy or rollback last finished.", labels: [("env", env)], now),
            MetricSample("opsctl_deploy_last_duration_seconds", "Wall time of the last deploy or rollback.", labels: [("env", env)], Double(report.durationMs) / 1000),
            MetricSample("opsctl_deploy_last_failed", "1 when the last deploy or rollback failed.", labels: [("env", env)], report.outcome == .succeeded ? 0 : 1),
        ]
        if report.outcome == .succeeded {
            samples.append(MetricSample("opsctl_deploy_last_success_timestamp_seconds", "When a deploy or rollback last succeeded.", labels: [("env", env)], now))
            samples.append(MetricSample("opsctl_release_info", "The live release.", labels: [("env", env), ("version", report.version)], 1))
            if let slot = report.slot { samples.append(StandbyMetrics.liveSlot(env: env, slot: slot)) }
        }
        // Counts from the ledger, so they survive between runs like a counter (and a deleted
        // metrics file comes back whole): dashboards take increase() over a window.
        if let counts = try? ledger.deploymentCounts(env: env) {
            samples += counts.map { MetricSample("opsctl_deployments", "Deploys and rollbacks recorded in the ledger, by kind and final status.",
                                                 labels: [("env", env), ("kind", $0.kind), ("status", $0.status)], Double($0.count)) }
        }
        if report.strategy.needsProxy {
            // Whatever the outcome: a failed deploy may have stopped the standby on the idle slot.
            samples.append(StandbyMetrics.expiry(env: env, standby: (try? ledger.standby(env: env)).flatMap { $0 }))
        }
        if let canary = report.canary, !canary.steps.isEmpty { samples += CanaryMetrics.samples(env: env, canary: canary, finishedAt: now) }
        do { try MetricsFile.update(directory: directory, env: env, samples: samples) } catch {
            deps.context.logger.warning("could not write metrics: \(error.message)")
        }
    }
}

/// Blue/green gauges: which slot serves, and until when the previous release stays on standby.
enum StandbyMetrics {
    static func liveSlot(env: String, slot: String) -> MetricSample {
        MetricSample("opsctl_live_slot_info", "The blue/green slot the proxy routes to.", labels: [("env", env), ("slot", slot)], 1)
    }

    static func expiry(env: String, standby: StandbyRecord?) -> MetricSample {
        MetricSample("opsctl_standby_expiry_timestamp_seconds", "When the release on standby is due to stop (0: none on standby).",
                     labels: [("env", env)], standby.map { $0.expiresAt.timeIntervalSince1970.rounded() } ?? 0)
    }
}

/// One deploy or rollback in progress: its report, step timings and ledger row.
final class DeployRun {
    /// Private: the parts of a run return what they found and `record` puts it here; `step`
    /// times the steps as they end and `finish` hands the whole report back.
    private var report: DeployReport
    let started = ContinuousClock.now
    let recorder: DeployRecorder
    let id: Int64
    /// The command's flags, the one copy every step reads (`--no-rollback` holds on every path).
    let options: DeployOptions
    private var stepStart = ContinuousClock.now

    init(report: DeployReport, recorder: DeployRecorder, id: Int64, options: DeployOptions) {
        self.report = report
        self.recorder = recorder
        self.id = id
        self.options = options
        self.report.ledgerId = id
    }

    var ledger: Ledger { recorder.ledger }
    /// A failed release is stopped and the previous one restored: `rollback: auto` and no `--no-rollback`.
    var rollbackEnabled: Bool { recorder.deps.rollbackEnabled(options) }

    /// What is being done: a deploy or a rollback.
    var kind: ReleaseAction { report.kind }

    /// Records the step that just ended and starts timing the next.
    func step(_ name: String, _ detail: String? = nil) {
        report.steps.append(.init(name: name, ms: (ContinuousClock.now - stepStart).milliseconds, detail: detail))
        stepStart = ContinuousClock.now
    }

    /// Records a step timed from its own start (a recovery that spans steps already recorded);
    /// the next step's timing goes on from where it was.
    func step(_ name: String, since start: ContinuousClock.Instant, _ detail: String?) {
        report.steps.append(.init(name: name, ms: (ContinuousClock.now - start).milliseconds, detail: detail))
    }

    /// The one place what a part found enters the report: a value found replaces the one
    /// there, lists grow in the order they were found.
    func record(_ found: DeployFindings) {
        report.health = found.health ?? report.health
        report.smoke = found.smoke ?? report.smoke
        report.recoveryHealth = found.recoveryHealth ?? report.recoveryHealth
        if let failed = found.failed {
            report.failedAt = failed.at
            report.failedLogs = failed.text.isEmpty ? nil : failed.text
        }
        report.hooks += found.hooks
        report.pruned += found.pruned
        report.warnings += found.warnings
        report.slot = found.slot ?? report.slot
        report.switched = found.switched ?? report.switched
        report.upstream = found.upstream ?? report.upstream
        report.standby = found.standby ?? report.standby
        report.drains += found.drains
        report.canary = found.canary ?? report.canary
        report.swarm = found.swarm ?? report.swarm
    }

    /// The end: outcome, scrubbed reason, duration, ledger row and metrics.
    func finish(_ outcome: DeployReport.Outcome, _ reason: String?, logs: String? = nil) throws(OpsError) -> DeployReport {
        report.outcome = outcome
        report.reason = reason.map(recorder.deps.redactor.scrub)
        report.durationMs = (ContinuousClock.now - started).milliseconds
        try recorder.finish(id: id, report, logs: logs)
        return report
    }
}
