import DroverAPI
import DroverCore
import DroverStore
import Foundation

extension ClusterQueries {
    /// What `spec` would cost and whether it would be admitted (`POST /v1/jobs?dryRun=true`).
    func estimate(_ spec: JobSpec) -> CostEstimateView {
        let now = cluster.clock.now()
        return cluster.state.withLock { state in
            let estimate = state.estimate(spec, now: now)
            var refusal: String?
            do throws(ClusterError) { try state.checkAdmission(spec, now: now) } catch { refusal = error.description }
            return CostEstimateView(
                name: spec.name, team: spec.team, tasks: spec.taskCount, estimate: estimate.totalMicros.map(Cluster.money),
                perTask: estimate.perTaskMicros.map(Cluster.money), duration: estimate.durationMilliseconds.map(Quantity.formatDuration),
                basis: estimate.basis, currency: state.currency, budget: estimate.budget.map { Cluster.view(of: $0, currency: state.currency) },
                admitted: refusal == nil, refusal: refusal)
        }
    }

    /// Ledger totals over `since..<until`, grouped, with job and node names.
    func costReport(by grouping: CostGrouping, since: Timestamp, until: Timestamp, team: String?) async throws -> CostReportView {
        let lines = try await fromStore { try await $0.costReport(by: grouping, since: since, until: until, team: team) }
        let (names, teams, currency) = cluster.state.withLock { state -> ([String: String], [String: String], String) in
            var names: [String: String] = [:]
            var teams: [String: String] = [:]
            for line in lines {
                switch grouping {
                case .job:
                    if let id = JobID(line.key), let job = state.jobs[id] {
                        names[line.key] = job.record.spec.name
                        teams[line.key] = job.record.spec.team
                    }
                case .node:
                    if let id = NodeID(line.key) { names[line.key] = state.nodes[id]?.record.name }
                default: break
                }
            }
            return (names, teams, state.currency)
        }
        var sum = CostLine(key: "total")
        for line in lines {
            sum.succeededMicros += line.succeededMicros
            sum.wastedMicros += line.wastedMicros
            sum.runningMicros += line.runningMicros
            sum.attempts += line.attempts
        }
        func view(_ line: CostLine) -> CostLineView {
            CostLineView(key: line.key, name: names[line.key], team: teams[line.key], succeeded: Cluster.money(line.succeededMicros),
                         wasted: Cluster.money(line.wastedMicros), running: Cluster.money(line.runningMicros), total: Cluster.money(line.totalMicros),
                         attempts: line.attempts)
        }
        // Attempts can appear under several days or nodes; the total counts each line's own.
        return CostReportView(by: grouping.rawValue, since: WireTime.format(milliseconds: since.milliseconds),
                              until: WireTime.format(milliseconds: until.milliseconds), currency: currency, lines: lines.map(view), total: view(sum))
    }

    /// Ledger rows, oldest first, optionally of one attempt or one team, after row `after`.
    func ledger(attempt: AttemptID?, team: String?, after: Int64, limit: Int) async throws -> [LedgerEntryView] {
        try await fromStore { try await $0.ledger(attempt: attempt, team: team, after: after, limit: limit) }.map(Cluster.view(of:))
    }

    /// Budget alerts, most recent `limit`, oldest first, of one team or all.
    func alerts(team: String?, limit: Int) async throws -> [AlertView] {
        try await fromStore { try await $0.alerts(team: team, limit: limit) }.map(Cluster.view(of:))
    }
}

extension Cluster {
    /// The read side of the cluster (``ClusterQueries``).
    var queries: ClusterQueries { ClusterQueries(cluster: self) }
}
