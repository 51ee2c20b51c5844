import DroverAPI
import DroverClient
import DroverTesting
import Foundation
import Glibc
import Testing

/// Tasks of two teams on one agent: each attempt runs as its own uid, so neither can read the
/// other's environment or directories (issue 20). The agent isolates tasks only as root, which
/// CI and the development containers are.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root: the agent runs attempts as uids of their own only when it is root"))
struct TaskIsolationTests {
    /// What the probe of team B found, as its exit code: 0 both refused, +1 it read A's
    /// `/proc/PID/environ`, +2 it entered A's working directory.
    static let probe = #"""
        read pid dir < "$DROP/a-info"
        found=0
        cat "/proc/$pid/environ" 2>/dev/null | tr '\0' '\n' | grep -q '^A_SECRET=' && found=$((found + 1))
        { ls "$dir" || cat "$dir/output.log"; } >/dev/null 2>&1 && found=$((found + 2))
        exit $found
        """#

    /// Runs team A's task holding a secret (it checks it can read its own environment and
    /// directory, then sleeps) and team B's probe beside it on one agent; returns B's exit code.
    static func probeExitCode(agentArguments: [String]) async throws -> Int32? {
        let cluster = try await TestCluster.start(agents: 1, agentArguments: agentArguments)
        defer { cluster.stopNow() }
        // A drop box both tasks may write to, as /tmp is: how B learns where A is.
        let drop = try cluster.sharedDirectory("drop")
        let secret = "s3cret-" + UUID().uuidString
        let holder = try await cluster.client.submit(.object([
            "name": .string("holder"), "team": .string("alpha"), "maxAttempts": .number(1),
            "env": .object(["A_SECRET": .object(["value": .string(secret), "secret": .bool(true)]), "DROP": .string(drop)]),
            "command": .string(#"""
                ls "$DROVER_WORK_DIR" > /dev/null && cat /proc/$$/environ | tr '\0' '\n' | grep -q '^A_SECRET=' || exit 9
                echo "$$ $DROVER_WORK_DIR" > "$DROP/a-info.new" && mv "$DROP/a-info.new" "$DROP/a-info"
                exec sleep 120
                """#),
        ]))
        do {
            try await cluster.waitUntil("team A's task to read its own environment and directory", timeout: .seconds(60)) {
                FileManager.default.fileExists(atPath: drop + "/a-info")
            }
        } catch {
            let view = try await cluster.client.job(holder.id)
            let logs = try await cluster.drover(["logs", holder.id]).stdout
            let attempts = view.attempts?.map { "\($0.outcome) \($0.exitCode.map(String.init) ?? "-")" } ?? []
            Issue.record("team A's task: \(view.state) \(view.pendingReason ?? "") \(attempts) \(logs)")
            throw error
        }
        let probe = try await cluster.client.submit(.object([
            "name": .string("probe"), "team": .string("beta"), "maxAttempts": .number(1), "env": .object(["DROP": .string(drop)]),
            "command": .string(probe),
        ]))
        _ = try await cluster.drover(["wait", probe.id])
        let attempt = try await cluster.client.job(probe.id).attempts?.first
        #expect(try await cluster.client.job(holder.id).tasks.running == 1, "team A's task ran all along")
        _ = try await cluster.client.cancel(holder.id)
        return attempt?.exitCode
    }

    @Test func aTaskOfAnotherTeamCannotReadASecretFromTheEnvironmentOrTheWorkDirectory() async throws {
        let found = try await Self.probeExitCode(agentArguments: [])
        #expect(found == 0, "team B's probe read A's secret environment (+1) or its directory (+2): \(found.map(String.init) ?? "no exit")")
    }

    @Test func withoutIsolationTheSameProbeReadsBoth() async throws {
        // The probe is able to tell: with every task as the agent's uid, it finds both.
        let found = try await Self.probeExitCode(agentArguments: ["--task-uids", "none"])
        #expect(found == 3, "\(found.map(String.init) ?? "no exit")")
    }

    @Test func aRetriedAttemptRunsAsAnotherUidAndKeepsUsingTheCheckpoints() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object([
            "name": .string("resumes"), "team": .string("ml"), "maxAttempts": .number(2), "backoff": .object(["initial": .string("10ms")]),
            "circuitBreaker": .bool(false),
            "command": .string(#"""
                c="$DROVER_CHECKPOINT_DIR"
                if [ "$DROVER_ATTEMPT" = 1 ]; then
                    mkdir -p "$c/step" && id -u > "$c/step/first-uid" && exit 1
                    exit 7
                fi
                first=$(cat "$c/step/first-uid") || exit 4
                [ "$first" != "$(id -u)" ] || exit 5
                echo resumed >> "$c/step/first-uid" && mkdir "$c/more" || exit 6
                echo "uids $first $(id -u)"
                """#),
        ]))
        let wait = try await cluster.drover(["wait", job.id])
        let final = try await cluster.client.job(job.id)
        #expect(wait.status == 0, "\(final.attempts?.map { "\($0.outcome) \($0.exitCode.map(String.init) ?? "-")" } ?? [])\n\(cluster.diagnostics())")
        #expect(final.attempts?.map(\.outcome) == [.failed, .succeeded])
        let log = try await cluster.drover(["logs", job.id])
        let uids = log.stdout.split(separator: "\n").first { $0.hasPrefix("uids ") }?.split(separator: " ").dropFirst().compactMap { UInt32($0) } ?? []
        #expect(uids.count == 2 && uids.allSatisfy { (2_000_000_000...2_000_065_535).contains($0) }, "\(log.stdout)")
    }

    @Test func nodesShowWhetherTheirTasksAreIsolated() async throws {
        let cluster = try await TestCluster.start(agents: 0)
        defer { cluster.stopNow() }
        try cluster.startAgent(name: "isolated", arguments: ["--cpu", "1", "--memory", "1GiB", "--gpu", "0"])
        try cluster.startAgent(name: "shared", arguments: ["--cpu", "1", "--memory", "1GiB", "--gpu", "0", "--task-uids", "none"])
        try await cluster.waitUntil("both agents registered", timeout: .seconds(30)) { (try? await cluster.client.nodes().count) == 2 }
        let json = try await cluster.drover(["nodes", "--output", "json"])
        #expect(json.status == 0, "\(json.stdout)")
        let nodes = try JSONDecoder().decode([NodeView].self, from: Data(json.stdout.utf8))
        #expect(Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, $0.taskIsolation) }) == ["isolated": .uid, "shared": .shared])
        #expect(json.stdout.contains(#""taskIsolation" : "uid""#) && json.stdout.contains(#""taskIsolation" : "none""#), "\(json.stdout)")
        let table = try await cluster.drover(["nodes"])
        #expect(table.stdout.contains("ISOLATION"), "\(table.stdout)")
        let log = (try? String(contentsOfFile: cluster.directory + "/shared.log", encoding: .utf8)) ?? ""
        #expect(log.contains("not isolated from each other"), "the agent warns at start: \(log)")
    }
}
