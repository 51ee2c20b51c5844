import DroverAPI
import DroverAgent
import DroverClient
import DroverTrust
import Foundation
import Synchronization

/// Real `drover coordinator` and `drover agent` processes, for integration tests and fault
/// drills: start, kill (for real), restart, and run CLI commands against them. On loopback,
/// or with a `Rig`, each on its own host: the coordinator on host `coordinator`, an agent on
/// the host of its name.
public final class TestCluster: Sendable {
    public let directory: String
    public let adminToken = "test-admin-" + UUID().uuidString
    public let joinToken = "test-join-" + UUID().uuidString
    public let heartbeat: String
    public let leaseTTL: String
    /// PEM of the self-signed certificate the coordinator serves HTTPS with, if TLS is on.
    public let caCertificate: String?
    /// The address the coordinator listens on; clients reach it on `coordinatorHost`.
    public let listenHost: String
    private let processes = Mutex<(coordinator: RunningProcess?, port: Int, agents: [String: RunningProcess])>((nil, 0, [:]))
    /// What the coordinator printed at its last start: http or https, and its generated CA's pin.
    private let served = Mutex<(scheme: String, caPin: CAPin?)>(("http", nil))

    /// The `drover` binary: `DROVER_BINARY`, or the one beside the running test bundle.
    public static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["DROVER_BINARY"] { return path }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: url.path + "/drover") { return url.path + "/drover" }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/.build/debug/drover"
    }()

    /// More flags for every start of the coordinator (e.g. `--cost-interval 500ms`).
    public let coordinatorArguments: [String]
    /// The hosts the processes run on, if not all on loopback.
    public let rig: Rig?
    /// The coordinator's `--data` directory.
    public let dataDirectory: String
    /// The address everyone reaches the coordinator at: its rig host's, or 127.0.0.1.
    public var coordinatorHost: String { rig?.address("coordinator") ?? "127.0.0.1" }

    /// A cluster in a new temporary directory; with `rigHosts`, on a new rig with those hosts
    /// (`coordinator` among them, which it listens on), and with `dataDisk` (a size such as
    /// `64M`) the coordinator's data on a disk of the rig's of that size.
    ///
    /// - Parameter listen: beyond loopback (0.0.0.0, a rig host) the coordinator serves HTTPS with a CA of its own
    ///   unless `tls` or `--insecure-http` says otherwise; clients then trust it by the pin it printed.
    public init(heartbeat: String = "300ms", leaseTTL: String = "3s", tls: Bool = false, listen: String = "127.0.0.1",
                coordinatorArguments: [String] = [], rigHosts: [String]? = nil, dataDisk: String? = nil) throws {
        directory = NSTemporaryDirectory() + "drover-test-\(UUID().uuidString.prefix(8))"
        let rig = try rigHosts.map { try Rig(hosts: $0, directory: NSTemporaryDirectory() + "drover-rig-\(UUID().uuidString.prefix(8))") }
        self.rig = rig
        listenHost = rig?.address("coordinator") ?? listen
        do {
            dataDirectory = try (rig.flatMap { rig in try dataDisk.map { try rig.disk("coordinator", size: $0) } } ?? directory) + "/data"
        } catch {
            rig?.down()
            throw error
        }
        self.coordinatorArguments = coordinatorArguments
        self.heartbeat = heartbeat
        self.leaseTTL = leaseTTL
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Writable by everyone, as /tmp is: tests' tasks leave files here, and under a root agent
        // each attempt runs as a uid of its own.
        chmod(directory, 0o1777)
        caCertificate = tls ? directory + "/cert.pem" : nil
        if tls {
            // A self-signed certificate for 127.0.0.1, made with the openssl CLI.
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            openssl.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/key.pem",
                                 "-out", directory + "/cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1",
                                 "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
            openssl.standardOutput = FileHandle.nullDevice
            openssl.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try openssl.run()
            openssl.waitUntilExit()
            guard openssl.terminationStatus == 0 else { throw TestClusterError("openssl could not make a test certificate (is openssl installed?)") }
        }
    }

    /// Starts a coordinator and `agents` agents; returns when the agents have registered.
    /// With `onRig`, each process on a host of a new rig, plus `extraHosts` (for the CLI, say).
    public static func start(agents: Int = 2, cpu: Double = 4, heartbeat: String = "300ms", leaseTTL: String = "3s",
                             agentArguments: [String] = [], tls: Bool = false, listen: String = "127.0.0.1",
                             coordinatorArguments: [String] = [], onRig: Bool = false, extraHosts: [String] = [],
                             dataDisk: String? = nil) async throws -> TestCluster {
        let hosts = onRig ? ["coordinator"] + (0..<agents).map { "agent-\($0 + 1)" } + extraHosts : nil
        let cluster = try TestCluster(heartbeat: heartbeat, leaseTTL: leaseTTL, tls: tls, listen: listen, coordinatorArguments: coordinatorArguments,
                                      rigHosts: hosts, dataDisk: dataDisk)
        do { try await cluster.startCoordinator() } catch {
            cluster.stopNow()
            throw error
        }
        for index in 1...max(1, agents) where agents > 0 {
            try cluster.startAgent(name: "agent-\(index)", arguments: ["--cpu", String(cpu), "--memory", "8GiB", "--gpu", "0"] + agentArguments)
        }
        try await cluster.waitUntil("\(agents) agents registered", timeout: .seconds(60)) {
            (try? await cluster.client.nodes().filter { $0.state == .ready }.count) == agents
        }
        return cluster
    }

    public var url: String { "\(served.withLock { $0.scheme })://\(coordinatorHost):\(processes.withLock { $0.port })" }
    /// The pin the coordinator printed for its generated CA, if it serves with one.
    public var caPin: CAPin? { served.withLock { $0.caPin } }
    public var client: DroverClient { try! DroverClient(baseURL: url, token: adminToken, caCertificate: caCertificate, caPin: caPin) }
    public var coordinatorPID: Int32? { processes.withLock { $0.coordinator?.pid } }
    public func agentPID(_ name: String) -> Int32? { processes.withLock { $0.agents[name]?.pid } }

    /// Starts the coordinator on the port it had before (a restart), or on a free one.
    public func startCoordinator() async throws {
        // On a host of its own the coordinator has every port to itself.
        let port = rig == nil ? processes.withLock { $0.port } : 7070
        let log = directory + "/coordinator.log"
        let offset = (try? FileManager.default.attributesOfItem(atPath: log)[.size] as? Int) ?? 0
        let process = try spawn(["coordinator", "--listen", "\(listenHost):\(port)", "--data", dataDirectory, "--admin-token", adminToken,
                                 "--join-token", joinToken, "--heartbeat-interval", heartbeat, "--lease-ttl", leaseTTL]
                                + (caCertificate.map { ["--tls-cert", $0, "--tls-key", directory + "/key.pem"] } ?? []) + coordinatorArguments, log: log, host: "coordinator")
        processes.withLock { $0.coordinator = process }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            let fresh = text.utf8.count > offset ? String(text.utf8.dropFirst(offset))! : ""
            if let start = Self.parseStart(fresh, generatedCA: caCertificate == nil) {
                processes.withLock { $0.port = start.port }
                served.withLock { $0 = (start.scheme, start.caPin) }
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestClusterError("coordinator did not start; its log:\n" + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? ""))
    }

    /// The scheme, port and CA pin from a coordinator's start output, once the lines are whole:
    /// an HTTPS one serving with a generated CA prints its pin and join command after the address.
    static func parseStart(_ output: String, generatedCA: Bool) -> (scheme: String, port: Int, caPin: CAPin?)? {
        guard let line = output.range(of: "listening on https?://[^\n]*:[0-9]+\n", options: .regularExpression).map({ output[$0] }) else { return nil }
        let scheme = line.contains("https://") ? "https" : "http"
        let port = Int(String(line.dropLast().reversed().prefix { $0.isNumber }.reversed()))!
        guard scheme == "https", generatedCA else { return (scheme, port, nil) }
        guard let join = output.range(of: "join an agent: [^\n]*\n", options: .regularExpression).map({ output[$0] }),
              let pin = join.range(of: "sha256:[0-9a-f]{64}", options: .regularExpression).map({ try? CAPin(parsing: String(join[$0])) }) ?? nil
        else { return nil }
        return (scheme, port, pin)
    }

    /// Starts an agent process named `name`.
    /// Registers an agent that no process runs: the test polls and reports with the client
    /// returned, so it controls every request.
    public func handDrivenAgent(name: String = "fake", cpu: Double) async throws -> DroverClient {
        let joiner = try DroverClient(baseURL: url, token: joinToken, caCertificate: caCertificate, caPin: caPin)
        let registration = try await joiner.register(RegisterRequest(name: name, cpu: cpu, memory: 8 << 30, gpus: [], labels: [:], prices: PriceRates()))
        return try DroverClient(baseURL: url, token: registration.token, caCertificate: caCertificate, caPin: caPin)
    }

    public func startAgent(name: String, arguments: [String] = []) throws {
        let process = try spawn(["agent", "--coordinator", url, "--join-token", joinToken, "--name", name, "--work-dir", directory + "/\(name)",
                                 "--kill-grace", "1s"] + (caCertificate.map { ["--ca-cert", $0] } ?? [])
                                + (caPin.map { ["--ca-pin", $0.description] } ?? []) + arguments, log: directory + "/\(name).log", host: name)
        processes.withLock { $0.agents[name] = process }
    }

    /// Starts `argv` (a whole command line, not only `drover` arguments) as the agent `name`:
    /// for an agent started through a wrapper, such as `chroot` into another root. Its output
    /// goes to `DIRECTORY/NAME.log`; `signalAgent` and `stopNow` reach it as any agent.
    public func startAgentProcess(name: String, argv: [String]) throws {
        let process = try RunningProcess.spawn(ProcessLaunch(argv: argv, environment: ProcessInfo.processInfo.environment,
                                                             workingDirectory: directory, outputPath: directory + "/\(name).log"))
        processes.withLock { $0.agents[name] = process }
    }

    /// Sends `signal` to the coordinator process (SIGKILL for a crash) and waits for it to exit if it is fatal.
    public func signalCoordinator(_ signal: Int32) async {
        guard let process = processes.withLock({ $0.coordinator }) else { return }
        kill(process.pid, signal)
        if signal == SIGKILL || signal == SIGTERM { _ = await process.wait() }
    }

    public func signalAgent(_ name: String, _ signal: Int32) async {
        guard let process = processes.withLock({ $0.agents[name] }) else { return }
        kill(process.pid, signal)
        if signal == SIGKILL || signal == SIGTERM { _ = await process.wait() }
    }

    /// Runs the CLI against this cluster; returns its exit code and output (stdout and stderr
    /// together). A CLI still running after `timeout` is killed and reported as status -2, so
    /// a hung command fails its test instead of hanging the suite.
    ///
    /// - Parameters:
    ///   - trusting: whether the CLI is told the CA (`DROVER_CA_CERT`, `DROVER_CA_PIN`).
    ///   - host: with a rig, the host the CLI runs on (else outside every host, where it reaches
    ///     the coordinator over the rig's bridge).
    public func drover(_ arguments: [String], token: String? = nil, trusting: Bool = true,
                       timeout: Duration = .seconds(60), host: String? = nil) async throws -> (status: Int32, stdout: String, stderr: String) {
        let (process, out) = try startDrover(arguments, token: token, trusting: trusting, host: host)
        let exit = await withTaskGroup(of: ProcessExit?.self) { group in
            group.addTask { await process.wait() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next()!
            group.cancelAll()
            if first == nil { _ = await process.terminate(grace: .seconds(1)) }
            return first
        }
        let output = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        guard let exit else { return (-2, output + "\n(drover \(arguments.joined(separator: " ")) timed out after \(timeout))\n" + diagnostics(), output) }
        return (exit.exitCode ?? -1, output, output)
    }

    /// Starts the CLI against this cluster and returns at once, for a test that signals it or
    /// reads its output as it goes: the process, and the file its stdout and stderr go to.
    public func startDrover(_ arguments: [String], token: String? = nil, trusting: Bool = true,
                            host: String? = nil) throws -> (process: RunningProcess, outputPath: String) {
        let out = directory + "/cli-\(UUID().uuidString.prefix(8)).out"
        var environment = ProcessInfo.processInfo.environment
        environment["DROVER_COORDINATOR"] = url
        environment["DROVER_TOKEN"] = token ?? adminToken
        if trusting, let caCertificate { environment["DROVER_CA_CERT"] = caCertificate }
        if trusting, let caPin { environment["DROVER_CA_PIN"] = caPin.description }
        let prefix = host.flatMap { rig?.onHost($0) } ?? []
        let process = try RunningProcess.spawn(ProcessLaunch(argv: prefix + [Self.binary] + arguments, environment: environment, workingDirectory: directory,
                                                             outputPath: out))
        return (process, out)
    }

    /// A directory under the cluster's that every task may write to, as /tmp (under a root
    /// agent each attempt runs as a uid of its own): where tests' tasks leave what they report.
    public func sharedDirectory(_ name: String) throws -> String {
        let path = directory + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o1777)
        return path
    }

    /// Polls `condition` until it holds or `timeout` passes.
    public func waitUntil(_ what: String, timeout: Duration, every: Duration = .milliseconds(50), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: every)
        }
        throw TestClusterError("timed out after \(timeout) waiting for: \(what)\n\(diagnostics())")
    }

    /// The tail of every process log, for failure messages.
    public func diagnostics() -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { $0.hasSuffix(".log") }.sorted() ?? []
        return files.map { file in
            let text = (try? String(contentsOfFile: directory + "/" + file, encoding: .utf8)) ?? ""
            return "--- \(file)\n" + text.split(separator: "\n").suffix(15).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Asks every process to stop (SIGTERM) without waiting: for `defer` in tests. The agents
    /// stop their tasks and exit; the coordinator shuts down gracefully.
    public func stopNow() {
        if let rig {
            // Every process of the cluster runs on a rig host: taking the rig down kills them.
            rig.down()
            try? FileManager.default.removeItem(atPath: rig.directory)
            try? FileManager.default.removeItem(atPath: directory)
            return
        }
        let (coordinator, agents) = processes.withLock { ($0.coordinator, Array($0.agents.values)) }
        let all = agents + (coordinator.map { [$0] } ?? [])
        for process in all { kill(process.pid, SIGCONT); kill(process.pid, SIGTERM) }
        // A SIGTERM that lands while a process is still installing its handlers can be lost,
        // and nothing here waits: a detached reaper makes sure nothing outlives the test.
        let pids = all.map { String($0.pid) }.joined(separator: " ")
        _ = try? RunningProcess.spawn(ProcessLaunch(
            argv: ["/bin/sh", "-c", "sleep 15; kill -KILL \(pids) 2>/dev/null; rm -rf '\(directory)'"],
            environment: ["PATH": "/usr/bin:/bin"], workingDirectory: "/", outputPath: "/dev/null"))
    }

    /// Starts `drover ARGUMENTS` in the cluster's directory, output to `log`; with a rig that
    /// has `host`, on that host.
    public func spawn(_ arguments: [String], log: String, host: String? = nil) throws -> RunningProcess {
        var environment = ProcessInfo.processInfo.environment
        environment["DROVER_LOG_LEVEL"] = environment["DROVER_TEST_LOG_LEVEL"] ?? "info"
        let prefix = host.flatMap { host in rig?.addresses[host] == nil ? nil : rig?.onHost(host) } ?? []
        return try RunningProcess.spawn(ProcessLaunch(argv: prefix + [Self.binary] + arguments, environment: environment, workingDirectory: directory,
                                                      outputPath: log))
    }
}

public struct TestClusterError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Whether a process is gone (no such pid, or a zombie nobody reaped yet).
public func processIsGone(_ pid: Int32) -> Bool {
    if kill(pid, 0) != 0 { return errno == ESRCH }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return true }
    return stat[stat.index(close, offsetBy: 2)] == "Z"
}
