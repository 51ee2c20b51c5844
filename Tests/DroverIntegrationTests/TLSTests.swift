import DroverAPI
import DroverClient
import DroverTesting
import DroverTrust
import Foundation
import Testing

/// Closed on the network: beyond loopback the coordinator serves HTTPS with a CA of its own,
/// and agents and the CLI trust it by the pin it prints.
@Suite(.serialized)
struct TLSTests {
    @Test func onEveryAddressItServesHTTPSAndThePrintedPinJoinsAgentsAndTheCLI() async throws {
        // Given a coordinator listening on 0.0.0.0 with no certificate given,
        let cluster = try TestCluster(listen: "0.0.0.0")
        defer { cluster.stopNow() }
        try await cluster.startCoordinator()
        // it serves HTTPS and prints its CA's pin and a join command with no secret in it;
        #expect(cluster.url.hasPrefix("https://127.0.0.1:"))
        let pin = try #require(cluster.caPin)
        let port = try #require(cluster.url.split(separator: ":").last.map(String.init))
        let output = try String(contentsOfFile: cluster.directory + "/coordinator.log", encoding: .utf8)
        #expect(output.contains("listening on https://0.0.0.0:\(port)\n"), "\(output)")
        #expect(output.contains("join an agent: drover agent --coordinator https://\(ProcessInfo.processInfo.hostName):\(port) --ca-pin \(pin) --join-token \"$DROVER_JOIN_TOKEN\""),
                "\(output)")
        #expect(!output.contains(cluster.adminToken) && !output.contains(cluster.joinToken))
        // its CA and server certificate are in the data directory, owner-only, and the pin is the CA's.
        let tls = cluster.directory + "/data/tls"
        for file in ["ca.pem", "ca.key", "server.pem", "server.key"] {
            #expect((try FileManager.default.attributesOfItem(atPath: "\(tls)/\(file)")[.posixPermissions] as? Int) == 0o600, "\(file)")
        }
        #expect(try CAPin(ofPEM: String(contentsOfFile: tls + "/ca.pem", encoding: .utf8)) == pin)

        // Plain HTTP gets no answer, and is told to use https.
        let plain = await #expect(throws: DroverClientError.self) {
            _ = try await DroverClient(baseURL: "http://127.0.0.1:\(port)", token: cluster.adminToken).jobs()
        }
        #expect(plain?.description.contains("use an https:// URL") == true, "\(String(describing: plain))")
        // The CLI with the pin is answered (DROVER_CA_PIN);
        let nodes = try await cluster.drover(["nodes"])
        #expect(nodes.status == 0, "\(nodes.stdout)")
        // without it, it is told what to pass instead of a TLS library's error stack;
        let untrusted = try await cluster.drover(["nodes"], trusting: false)
        #expect(untrusted.status != 0)
        #expect(untrusted.stdout.contains("presented a certificate this client does not trust") && untrusted.stdout.contains("pass --ca-pin"),
                "\(untrusted.stdout)")
        #expect(!untrusted.stdout.contains("BoringSSL") && !untrusted.stdout.contains("CERTIFICATE_VERIFY_FAILED"), "\(untrusted.stdout)")
        // with a wrong pin it is refused as the wrong coordinator or a man in the middle.
        let wrong = try CAPin(parsing: "sha256:" + String(repeating: "00", count: 32))
        let mismatched = try await cluster.drover(["nodes", "--ca-pin", wrong.description])
        #expect(mismatched.status != 0)
        #expect(mismatched.stdout.contains("does not match --ca-pin \(wrong) (it serves \(pin)): wrong coordinator or a man in the middle"),
                "\(mismatched.stdout)")

        // An agent given the pin registers and runs a job submitted by the CLI.
        try cluster.startAgent(name: "agent-1", arguments: ["--cpu", "2", "--memory", "8GiB", "--gpu", "0"])
        try await cluster.waitUntil("the pinned agent registered", timeout: .seconds(30)) {
            (try? await cluster.client.nodes().filter { $0.state == .ready }.count) == 1
        }
        let submit = try await cluster.drover(["submit", "--name", "pinned", "--team", "ml", "--wait", "--", "echo", "over pinned tls"])
        #expect(submit.status == 0, "\(submit.stdout)\n\(cluster.diagnostics())")
        let id = try #require(submit.stdout.split(separator: "\n").first.map(String.init))
        #expect(String(decoding: try await cluster.client.logs(job: id, task: 0).data, as: UTF8.self) == "over pinned tls\n")

        // Restarted, it serves with the same CA: the pin agents hold keeps working.
        await cluster.signalCoordinator(SIGTERM)
        try await cluster.startCoordinator()
        #expect(cluster.caPin == pin)
        #expect(try await cluster.drover(["nodes"]).status == 0)
    }

    @Test func anAgentWithAWrongPinStopsSayingWhy() async throws {
        let cluster = try TestCluster(listen: "0.0.0.0")
        defer { cluster.stopNow() }
        try await cluster.startCoordinator()
        let wrong = "sha256:" + String(repeating: "11", count: 32)
        let process = try cluster.spawn(["agent", "--coordinator", cluster.url, "--join-token", cluster.joinToken, "--ca-pin", wrong,
                                         "--name", "wrong", "--work-dir", cluster.directory + "/wrong"], log: cluster.directory + "/wrong.log")
        try await cluster.waitUntil("the agent stops", timeout: .seconds(60)) { processIsGone(process.pid) }
        #expect(await process.wait().exitCode != 0)
        let log = try String(contentsOfFile: cluster.directory + "/wrong.log", encoding: .utf8)
        #expect(log.contains("does not match --ca-pin \(wrong)"), "\(log)")
        #expect(try await cluster.client.nodes().isEmpty)
    }

    @Test func insecureHTTPServesPlainBeyondLoopbackAndSaysSoLoudly() async throws {
        let cluster = try TestCluster(listen: "0.0.0.0", coordinatorArguments: ["--insecure-http"])
        defer { cluster.stopNow() }
        try await cluster.startCoordinator()
        #expect(cluster.url.hasPrefix("http://"))
        #expect(cluster.caPin == nil)
        #expect(try await cluster.client.health())
        let output = try String(contentsOfFile: cluster.directory + "/coordinator.log", encoding: .utf8)
        #expect(output.contains("INSECURE: serving plain HTTP on 0.0.0.0"), "\(output)")
        #expect(!FileManager.default.fileExists(atPath: cluster.directory + "/data/tls"))
    }

    @Test func aPinAgainstACoordinatorWithoutAGeneratedCASaysToUseTheCAFile() async throws {
        // Given a coordinator serving a certificate it was given (no CA of its own),
        let cluster = try await TestCluster.start(agents: 0, tls: true)
        defer { cluster.stopNow() }
        let pin = try CAPin(parsing: "sha256:" + String(repeating: "22", count: 32))
        // a client given a pin is told to pass --ca-cert instead.
        let error = await #expect(throws: DroverClientError.self) {
            _ = try await DroverClient(baseURL: cluster.url, token: cluster.adminToken, caCertificate: nil, caPin: pin).jobs()
        }
        #expect("\(String(describing: error))".contains("trust its certificate with --ca-cert PEM instead of --ca-pin"), "\(String(describing: error))")
    }
}
