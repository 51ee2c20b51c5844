import DroverCore
import DroverStore
import Foundation
import Logging

// MARK: - Secret env values: sealed in every job record, opened only for agents' leases

extension Cluster {
    /// The spec to submit: `sealed`, or the sealed spec of the job first submitted with
    /// `idempotencyKey` when that job's clear spec is `clear`. Sealing draws fresh nonces, so
    /// two seals of one spec differ; the core's replay check compares stored specs and must
    /// see the first one again for a replay (and anything else for a conflict).
    func replayable(_ sealed: JobSpec, clear: JobSpec, idempotencyKey: String?, in state: ClusterState) -> JobSpec {
        guard let key = idempotencyKey, let first = state.queue.job(team: clear.team, idempotencyKey: key),
              (try? secrets.opened(first.record.spec)) == clear else { return sealed }
        return first.record.spec
    }

    /// `leases` (just committed, to `node`) with their secret values opened. A lease whose
    /// secrets this key cannot open is not handed out: its attempt fails at once with the
    /// reason, and the job's retry policy decides what follows, as for any failed attempt.
    func openedForAgent(_ leases: [Lease], of node: NodeID) async throws -> [Lease] {
        var opened: [Lease] = []
        var failures: [AttemptReport] = []
        for lease in leases {
            guard lease.spec.secretKeys?.isEmpty == false else {
                opened.append(lease)
                continue
            }
            do {
                opened.append(Lease(attempt: lease.attempt, spec: try secrets.opened(lease.spec)))
            } catch {
                failures.append(AttemptReport(attempt: lease.attempt.id, outcome: .failed, reason: "\(error)"))
                logger.error("lease not handed out: a secret could not be decrypted", metadata: [
                    "attempt.id": "\(lease.attempt.id)", "job.id": "\(lease.attempt.task.job)", "error": "\(error)",
                ])
            }
        }
        if !failures.isEmpty {
            try await mutate { state, now throws(ClusterError) in
                var random = SystemRandomNumberGenerator()
                return state.report(failures, from: node, maxLeases: 0, now: now, random: &random).map { _ in () }
            }
        }
        return opened
    }
}

/// Seals, once, the secret values that a coordinator from before sealing stored in clear.
enum LegacySecrets {
    /// Seals the clear secrets of `jobs` in place and in `store` (which rewrites the specs and
    /// leaves no copy of the clear text in its files); returns how many jobs were sealed.
    static func seal(_ jobs: inout [JobRecord], with sealer: SecretSealer, in store: any Store) async throws -> Int {
        var rewritten: [JobID: JobSpec] = [:]
        for index in jobs.indices where SecretSealer.holdsClearSecrets(jobs[index].spec) {
            jobs[index].spec = try sealer.sealingClearValues(of: jobs[index].spec)
            rewritten[jobs[index].id] = jobs[index].spec
        }
        if !rewritten.isEmpty { try await store.rewriteSpecs(rewritten) }
        return rewritten.count
    }

    /// Ids of live jobs holding a sealed value `sealer` cannot open: sealed with another key.
    static func unreadable(in jobs: [JobRecord], with sealer: SecretSealer) -> [JobID] {
        jobs.filter { !$0.state.isTerminal && $0.spec.secretKeys?.isEmpty == false && (try? sealer.opened($0.spec)) == nil }.map(\.id)
    }
}
