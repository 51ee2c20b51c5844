import DroverAPI
import DroverClient
import DroverTesting
import Foundation
import Testing

/// Secret env values with real processes: the task gets the clear value, the database file
/// never holds it, and a restarted coordinator reads its key back.
@Suite(.serialized) struct SecretsTests {
    let secret = "hf_" + UUID().uuidString

    /// Submits a job whose task succeeds only if it got `secret` in `TOKEN`. The comparison is
    /// with the two halves in plain variables: the task's output is masked, and the
    /// command must not carry the secret itself.
    func submitComparingJob(_ name: String, to cluster: TestCluster) async throws -> String {
        let half = secret.index(secret.startIndex, offsetBy: secret.count / 2)
        return try await cluster.client.submit(.object([
            "name": .string(name), "team": .string("ml"), "maxAttempts": .number(1),
            "command": .string(#"if [ "$TOKEN" = "$FIRST$SECOND" ]; then echo token-matches; else echo token-differs; exit 1; fi"#),
            "env": .object([
                "FIRST": .string(String(secret[..<half])), "SECOND": .string(String(secret[half...])),
                "TOKEN": .object(["value": .string(secret), "secret": .bool(true)]),
            ]),
        ])).id
    }

    /// `drover.sqlite` and its WAL, as `strings` would read them.
    func databaseHoldsSecret(_ cluster: TestCluster) throws -> Bool {
        let path = cluster.directory + "/data/drover.sqlite"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path)) + ((try? Data(contentsOf: URL(fileURLWithPath: path + "-wal"))) ?? Data())
        return bytes.range(of: Data(secret.utf8)) != nil
    }

    func expectRuns(_ job: String, on cluster: TestCluster) async throws {
        let wait = try await cluster.drover(["wait", job])
        #expect(wait.status == 0, "\(wait.stdout)\n\(cluster.diagnostics())")
        let log = try await cluster.client.logs(job: job, task: 0)
        #expect(String(decoding: log.data, as: UTF8.self) == "token-matches\n")
    }

    @Test func aSecretReachesTheTaskButNeverTheDatabaseFileAcrossARestart() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        try await expectRuns(try await submitComparingJob("before-restart", to: cluster), on: cluster)
        #expect(try !databaseHoldsSecret(cluster), "the secret is stored in clear")
        let keyFile = cluster.directory + "/data/secret.key"
        #expect(try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int == 0o600)
        #expect(try Data(contentsOf: URL(fileURLWithPath: keyFile)).count == 32)
        // The coordinator restarted on the same data directory reads the same key.
        await cluster.signalCoordinator(SIGKILL)
        try await cluster.startCoordinator()
        try await expectRuns(try await submitComparingJob("after-restart", to: cluster), on: cluster)
        #expect(try !databaseHoldsSecret(cluster))
    }

    @Test func aKeyFileOthersMayReadStopsTheCoordinatorSayingHowToFixIt() async throws {
        let cluster = try TestCluster()
        defer { cluster.stopNow() }
        let keyFile = cluster.directory + "/shared.key"
        #expect(FileManager.default.createFile(atPath: keyFile, contents: Data(repeating: 1, count: 32), attributes: [.posixPermissions: 0o644]))
        let log = cluster.directory + "/refused.log"
        let process = try cluster.spawn(["coordinator", "--listen", "127.0.0.1:0", "--data", cluster.directory + "/data",
                                         "--admin-token", "a", "--join-token", "j", "--secret-key-file", keyFile], log: log)
        let exit = await process.wait()
        #expect(exit.exitCode != 0)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("chmod 600 \(keyFile)"), "\(text)")
    }
}
