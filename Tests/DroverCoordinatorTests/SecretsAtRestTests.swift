import DroverAPI
import DroverCore
import DroverStoreSQLite
import Foundation
import Logging
import Testing
@testable import DroverCoordinator

/// Coordinators on their own SQLite store: secret values are sealed in every job record and
/// in the file, opened for leases, replayable by Idempotency-Key, and failed with a reason
/// when the key that sealed them is gone.
@Suite final class SecretsAtRestTests {
    let directory = NSTemporaryDirectory() + "drover-secrets-\(UUID().uuidString.prefix(8))"
    let secret = "hf_" + UUID().uuidString

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func spec(secret: String? = nil) -> JobSpec {
        var spec = JobSpec(name: "uses-a-secret", team: "ml", command: ["true"], environment: ["TOKEN": secret ?? self.secret, "MODE": "fast"],
                           resources: Resources(millicores: 1000, memoryBytes: 1 << 20, gpus: 0))
        spec.secretKeys = ["TOKEN"]
        spec.retry.maxAttempts = 1
        return spec
    }

    /// Runs `body` on a coordinator built on `directory` (its journal running), as a start of `drover coordinator` would.
    func withCoordinator<T: Sendable>(_ body: (Cluster) async throws -> T) async throws -> T {
        var configuration = CoordinatorConfiguration()
        configuration.dataDirectory = directory
        configuration.adminToken = "admin"
        configuration.joinToken = "join"
        let coordinator = try await buildCoordinator(configuration: configuration, logger: ClusterShellTests.quiet)
        let cluster = coordinator.cluster
        let journal = Task { try await cluster.journal.run() }
        defer { journal.cancel() }
        return try await body(cluster)
    }

    /// The database file and its WAL, as `strings drover.sqlite` would read them.
    func fileHoldsSecret() throws -> Bool {
        let path = directory + "/drover.sqlite"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path)) + ((try? Data(contentsOf: URL(fileURLWithPath: path + "-wal"))) ?? Data())
        return bytes.range(of: Data(secret.utf8)) != nil
    }

    func lease(from cluster: Cluster) async throws -> [Lease] {
        let request = RegisterRequest(name: "a", cpu: 4, memory: 8 << 30, gpus: [], labels: [:], prices: PriceRates())
        let node = try await cluster.register(WireCommands.registration(request), tokenHash: TokenHash.hex("agent-token"))
        return try await cluster.poll(node: node.id, maxLeases: 1, wait: .zero).0
    }

    @Test func aJobIsKeptSealedAndItsLeaseCarriesTheClearValue() async throws {
        try await withCoordinator { cluster async throws in
            let record = try await cluster.submit(spec(), by: "admin")
            #expect(record.spec.environment["TOKEN"]?.hasPrefix(SecretSealer.prefix) == true)
            #expect(cluster.state.withLock { $0.jobs[record.id]?.record.spec.environment["TOKEN"] } == record.spec.environment["TOKEN"])
            #expect(try !fileHoldsSecret())
            let leases = try await lease(from: cluster)
            #expect(leases.map(\.spec.environment) == [["TOKEN": secret, "MODE": "fast"]])
            let view = try await cluster.queries.job(record.id, withAttempts: true, eventLimit: 100)
            #expect(view.env == ["TOKEN": "***", "MODE": "fast"])
        }
    }

    @Test func aRepeatedSubmitOfTheSameSecretSpecReplaysAndAnotherSecretConflicts() async throws {
        try await withCoordinator { cluster async throws in
            let first = try await cluster.submit(spec(), by: "admin", idempotencyKey: "key-1")
            let again = try await cluster.submit(spec(), by: "admin", idempotencyKey: "key-1")
            #expect(!first.replayed && again.replayed && again.record.id == first.record.id)
            await #expect { try await cluster.submit(spec(secret: "another value"), by: "admin", idempotencyKey: "key-1") } throws: { error in
                "\(error)".contains("different spec")
            }
            #expect(cluster.state.withLock { $0.jobs.count } == 1)
        }
    }

    @Test func clearSecretsOfAnOlderCoordinatorAreSealedOnStartAndLeftNowhereInTheFile() async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            // Given a database written before sealing: the spec holds the value in clear,
            let old = try SQLiteStore(path: directory + "/drover.sqlite")
            try await old.apply([.putJob(JobRecord(id: JobID(1), spec: spec(), submittedAt: Timestamp(milliseconds: 1), submittedBy: "admin"))])
        }
        #expect(try fileHoldsSecret())
        // when a coordinator starts on it, the value is sealed in memory and in the file,
        try await withCoordinator { cluster async throws in
            #expect(cluster.state.withLock { $0.jobs[JobID(1)]?.record.spec.environment["TOKEN"]?.hasPrefix(SecretSealer.prefix) } == true)
            #expect(try !fileHoldsSecret())
            // and the job's lease still carries the clear value.
            #expect(try await lease(from: cluster).first?.spec.environment["TOKEN"] == secret)
        }
    }

    @Test func aSecretSealedWithAnotherKeyFailsItsAttemptSayingToRestoreTheKey() async throws {
        let job = try await withCoordinator { try await $0.submit(spec(), by: "admin").id }
        // The key file replaced (a new machine, a lost backup):
        let keyFile = directory + "/secret.key"
        try FileManager.default.removeItem(atPath: keyFile)
        #expect(FileManager.default.createFile(atPath: keyFile, contents: Data(repeating: 9, count: 32), attributes: [.posixPermissions: 0o600]))
        try await withCoordinator { cluster async throws in
            #expect(try await lease(from: cluster).isEmpty, "no lease with undecryptable secrets is handed out")
            let attempts = try await cluster.store.attempts(of: job)
            #expect(attempts.map(\.state) == [.failed])
            let reason = try #require(attempts.first?.reason)
            #expect(reason.contains("could not decrypt secret env TOKEN") && reason.contains("restore the secret key file"), "\(reason)")
            #expect(cluster.state.withLock { $0.jobs[job]?.record.state } == .failed, "the job fails visibly, by its retry policy")
        }
    }
}
