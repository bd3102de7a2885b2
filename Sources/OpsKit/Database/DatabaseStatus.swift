// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What every `opsctl db` operation works on, decided from an environment's config in one place.
public struct DatabaseRequest: Sendable {
    public var env: String
    public var path: String
    public var limits: DatabaseMaintenance
    public var ledgerPath: String?
    public var metricsDirectory: String?
    /// `backup.dir` and the backup name: the lock every backup, restore and vacuum of this
    /// database takes, and where a swap's safety copy goes.
    public var backupDirectory: String?
    public var backupName: String
    public var encryption: BackupEncryption?
    /// What keeps the app off the database while a vacuum swaps a new file in (nil: no swap may happen).
    public var pause: (any SwapPause)?
    /// `backup.replica.dir`: a running `opsctl replicate` only reads the database, so it never blocks a swap.
    public var replicaDirectory: String?

    public init(env: String, path: String, limits: DatabaseMaintenance = DatabaseMaintenance(), backupName: String, pause: (any SwapPause)? = nil) {
        self.env = env
        self.path = path
        self.limits = limits
        self.backupName = backupName
        self.pause = pause
    }

    public static func forEnvironment(_ environment: EnvironmentConfig, config: OpsConfig, pause: (any SwapPause)? = nil) throws(OpsError) -> DatabaseRequest {
        let target = config.backupTarget(of: environment)
        var request = DatabaseRequest(env: environment.name, path: try target.requireDatabase(),
                                      limits: environment.database?.maintenance ?? DatabaseMaintenance(), backupName: target.name, pause: pause)
        request.replicaDirectory = environment.backup?.replica?.dir
        request.ledgerPath = config.state
        request.metricsDirectory = environment.metrics?.textfileDir
        request.backupDirectory = target.directory
        request.encryption = environment.backup?.encryption
        return request
    }

    func checkContext(history: MaintenanceHistory?, now: Date) -> DatabaseChecks.Context {
        DatabaseChecks.Context(env: env, limits: limits, history: history, now: now)
    }
}

/// `opsctl db ENV`: the database's own health, a verdict per line and the fix for each warning.
public struct DatabaseStatusReport: Report {
    public var env: String
    public var path: String
    public var facts: DatabaseFacts
    public var limits: DatabaseMaintenance
    public var history: MaintenanceHistory?
    public var checks: [DatabaseCheck]

    /// 65 corrupt, 9 not in WAL mode, 1 another failing line.
    public var exitCode: Int32 { DatabaseChecks.exitCode(checks) }

    public func renderText() -> String {
        var lines = ["database \(path) (\(env))"]
        lines += DatabaseStatusReport.lines(checks)
        let counts = (ok: checks.filter { $0.verdict == .ok }.count, warn: checks.filter { $0.verdict == .warn }.count,
                      fail: checks.filter { $0.verdict == .fail }.count)
        lines.append("\(counts.fail == 0 ? "ok" : "FAILED"): \(counts.ok) ok, \(counts.warn) warning(s), \(counts.fail) failed")
        return lines.joined(separator: "\n")
    }

    /// `WARN  checkpoint    a reader keeps …` and its fix underneath.
    static func lines(_ checks: [DatabaseCheck], indent: String = "") -> [String] {
        checks.map { check in
            indent + check.verdict.rawValue.uppercased().padding(toLength: 6, withPad: " ", startingAt: 0)
                + check.id.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0) + check.summary
                + (check.verdict == .ok ? "" : check.fix.map { "\n" + indent + String(repeating: " ", count: 20) + "fix: \($0)" } ?? "")
        }
    }
}

public enum DatabaseService {
    public static func status(_ request: DatabaseRequest, context: OpsContext) throws(OpsError) -> DatabaseStatusReport {
        let facts = try DatabaseInspector.inspect(request.path, busyTimeout: request.limits.busyTimeout, quickCheck: true)
        let history = self.history(request, context: context)
        let checks = DatabaseChecks.evaluate(facts, request.checkContext(history: history, now: context.now()))
        writeMetrics(request, facts: facts, history: history, context: context)
        return DatabaseStatusReport(env: request.env, path: request.path, facts: facts, limits: request.limits, history: history, checks: checks)
    }

    /// The ledger's record of past runs; nil (said in a warning) when the ledger cannot be read.
    static func history(_ request: DatabaseRequest, context: OpsContext) -> MaintenanceHistory? {
        guard let path = request.ledgerPath else { return nil }
        do {
            return try context.ledger(path).maintenanceHistory(env: request.env)
        } catch {
            context.logger.warning("cannot read the maintenance history from the ledger: \(error.message)")
            return nil
        }
    }

    /// The gauges (`opsctl_database_*`); a failure to write them is a warning, never the command's failure.
    static func writeMetrics(_ request: DatabaseRequest, facts: DatabaseFacts, history: MaintenanceHistory?, context: OpsContext) {
        guard let directory = request.metricsDirectory else { return }
        let checks = DatabaseChecks.evaluate(facts, request.checkContext(history: history, now: context.now()))
        do {
            try MetricsFile.update(directory: directory, env: request.env,
                                   samples: DatabaseMetrics.samples(env: request.env, facts: facts, checks: checks, limits: request.limits, history: history))
        } catch {
            context.logger.warning("cannot write the database metrics: \(error.message)")
        }
    }

    /// Appends a run to the ledger; a ledger failure is a warning (the run itself happened).
    static func record(_ record: DatabaseMaintenanceRecord, _ request: DatabaseRequest, context: OpsContext) {
        guard let path = request.ledgerPath else { return }
        do { try context.ledger(path).recordMaintenance(record) } catch {
            context.logger.warning("cannot record the \(record.operation.rawValue) in the ledger: \(error.message)")
        }
    }
}
