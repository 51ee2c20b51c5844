import DroverAPI
import DroverClient
import DroverTesting
import Foundation
import Testing

/// The real `drover` binary against a real coordinator: each exit code of the contract
/// (README: Exit codes) and the message that says what to do.
@Suite(.serialized)
struct CLIExitCodeTests {
    @Test func requestsThatFailExitWithTheirCodeAndSayWhatToDo() async throws {
        let cluster = try await TestCluster.start(agents: 0)
        defer { cluster.stopNow() }

        let unknown = try await cluster.drover(["job", "show", "999999"])
        #expect(unknown.status == 66, "\(unknown.stdout)")

        let closed = try await cluster.drover(["jobs", "--coordinator", "http://127.0.0.1:1"])
        #expect(closed.status == 69, "\(closed.stdout)")
        #expect(closed.stdout.contains("cannot reach the coordinator at http://127.0.0.1:1: connection refused — is it running? set --coordinator or DROVER_COORDINATOR"),
                "\(closed.stdout)")

        let noScheme = try await cluster.drover(["jobs", "--coordinator", "localhost:7070"])
        #expect(noScheme.status == 64, "\(noScheme.stdout)")
        #expect(noScheme.stdout.contains("did you mean http://localhost:7070?"), "\(noScheme.stdout)")

        let forged = try await cluster.drover(["jobs"], token: "drt_forged")
        #expect(forged.status == 77, "\(forged.stdout)")
        #expect(forged.stdout.contains("unknown token; check DROVER_TOKEN"), "\(forged.stdout)")

        let revoked = try await cluster.client.createToken(team: "ml", role: .submitter)
        _ = try await cluster.client.revokeToken(revoked.info.id)
        let refused = try await cluster.drover(["jobs"], token: revoked.token)
        #expect(refused.status == 77, "\(refused.stdout)")
        #expect(refused.stdout.contains("this token was revoked (id \(revoked.info.id)); ask an admin for a new one"), "\(refused.stdout)")

        let typo = try await cluster.drover(["job", "shwo", "1"])
        #expect(typo.status == 64, "\(typo.stdout)")
        #expect(typo.stdout.contains("unknown command 'shwo'; did you mean 'show'?"), "\(typo.stdout)")

        let missing = try await cluster.drover(["submit", "nope.yaml"])
        #expect(missing.status == 66, "\(missing.stdout)")
        #expect(missing.stdout.contains("cannot read nope.yaml: no such file"), "\(missing.stdout)")

        let help = try await cluster.drover(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Exit codes:") && help.stdout.contains("77  refused"), "\(help.stdout)")
    }

    @Test func aDryRunTheBudgetWouldRefuseExitsAsTheSubmitWould() async throws {
        // One core-hour at 3600: 10 s of one core estimates 10 USD, over a 0.01 budget.
        let cluster = try await TestCluster.start(agents: 1, agentArguments: ["--price-cpu-hour", "3600"])
        defer { cluster.stopNow() }
        let set = try await cluster.drover(["quota", "set", "ml", "--budget", "0.01/day"])
        #expect(set.status == 0, "\(set.stderr)")
        let arguments = ["--name", "probe", "--team", "ml", "--cpu", "1", "--memory", "64MiB", "--expected-duration", "10s", "--", "true"]
        let dryRun = try await cluster.drover(["submit", "--dry-run"] + arguments)
        #expect(dryRun.status == 77, "\(dryRun.stdout)")
        #expect(dryRun.stdout.contains("Admitted:  no"), "\(dryRun.stdout)")
        #expect(try await cluster.client.jobs().isEmpty, "a dry run submits nothing")
        let submit = try await cluster.drover(["submit"] + arguments)
        #expect(submit.status == 77, "the submit it stands for is refused the same way: \(submit.stdout)")
    }

    @Test func anInvalidSpecNamesEveryErrorAtOnce() async throws {
        let cluster = try await TestCluster.start(agents: 0)
        defer { cluster.stopNow() }
        let path = cluster.directory + "/typo.yaml"
        try "name: j\nteam: ml\ncommand: [\"true\"]\ntimout: 5m\npriority: 5000\n".write(toFile: path, atomically: true, encoding: .utf8)
        let invalid = try await cluster.drover(["submit", path])
        #expect(invalid.status == 65, "\(invalid.stdout)")
        #expect(invalid.stdout.contains("2 errors"), "\(invalid.stdout)")
        #expect(invalid.stdout.contains("timout: unknown field; did you mean 'timeout'?"), "\(invalid.stdout)")
        #expect(invalid.stdout.contains("priority: must be a whole number from -1000 to 1000"), "\(invalid.stdout)")
        // The coordinator answers the same: the first in `field`, all of them in `errors` and `detail`.
        let answer = await #expect(throws: DroverClientError.self) {
            _ = try await cluster.client.submit(.object(["name": .string("j"), "team": .string("ml"), "command": .string("true"),
                                                         "timout": .string("5m"), "priority": .number(5000)]))
        }
        guard case .problem(let problem)? = answer else { Issue.record("expected a problem, got \(String(describing: answer))"); return }
        #expect(problem.status == 400 && problem.field == "timout")
        #expect(problem.errors?.map(\.field) == ["timout", "priority"])
        #expect(problem.detail.contains("timout") && problem.detail.contains("priority"))
    }

    @Test func aTeamTokenSuppliesTheTeamAndAFinishedJobCannotBeCancelled() async throws {
        let cluster = try await TestCluster.start(agents: 0)
        defer { cluster.stopNow() }
        let submitter = try await cluster.client.createToken(team: "ml", role: .submitter).token
        let submitted = try await cluster.drover(["submit", "--name", "no-team", "--", "true"], token: submitter)
        #expect(submitted.status == 0, "\(submitted.stdout)")
        let id = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await cluster.client.job(id).team == "ml")
        // Without a team token there is no team to take: the coordinator says so (65).
        let noTeam = try await cluster.drover(["submit", "--name", "no-team", "--", "true"])
        #expect(noTeam.status == 65, "\(noTeam.stdout)")
        #expect(noTeam.stdout.contains("team: is required"), "\(noTeam.stdout)")

        #expect(try await cluster.drover(["job", "cancel", id]).status == 0)
        let again = try await cluster.drover(["job", "cancel", id])
        #expect(again.status == 65, "409: the job's state refuses it; retrying cannot help. \(again.stdout)")
    }

    @Test func waitExitsWithTheJobsOutcome() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        func submitAndWait(_ name: String, _ flags: [String], _ command: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await cluster.drover(["submit", "--wait", "--name", name, "--team", "ml", "--max-attempts", "1"] + flags + ["--"] + command,
                                     timeout: .seconds(120))
        }
        let succeeded = try await submitAndWait("ok", [], ["true"])
        #expect(succeeded.status == 0, "\(succeeded.stdout)")
        let exited = try await submitAndWait("exit3", [], ["sh", "-c", "exit 3"])
        #expect(exited.status == 3, "the task's own exit code. \(exited.stdout)")
        let killed = try await submitAndWait("killed", [], ["sh", "-c", "kill -9 $$"])
        #expect(killed.status == 137, "128+9, as a shell reports it. \(killed.stdout)")
        let timedOut = try await submitAndWait("slow", ["--timeout", "1s"], ["sleep", "60"])
        #expect(timedOut.status == 1, "timed out: no exit code of its own. \(timedOut.stdout)")
        let id = exited.stdout.split(separator: "\n").first.map(String.init) ?? ""
        #expect(try await cluster.drover(["wait", id]).status == 3, "wait says the same as submit --wait")
    }

    @Test func aStoreOutageExitsWithTryAgainLater() async throws {
        let cluster = try await TestCluster.start(agents: 0)
        defer { cluster.stopNow() }
        _ = try await cluster.client.jobs()
        // Another process holds the database's write lock past the store's busy timeout (as FaultDrillTests drill8).
        let lock = try SQLiteWriteLock(database: cluster.dataDirectory + "/drover.sqlite")
        defer { lock.release() }
        let refused = try await cluster.drover(["submit", "--name", "refused", "--team", "ml", "--", "true"], timeout: .seconds(180))
        #expect(refused.status == 75, "\(refused.stdout)")
        #expect(refused.stdout.contains("Retry in"), "\(refused.stdout)")
    }
}
