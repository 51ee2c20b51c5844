import DroverAgent
import Foundation

/// Hosts as network namespaces on this machine, with the faults of a real network, clock and
/// disk, driven through `cluster/rig/rig` (see its README). Tests that use it need root.
///
/// Everything a rig made is removed by `down()`, and by the next rig's start if the process
/// that made it died first (`rig sweep`).
public final class Rig: Sendable {
    /// `cluster/rig/rig` of this checkout.
    public static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/cluster/rig/rig"

    /// Why rig tests cannot run here, or nil when they can (root, and the tools the rig uses).
    public static let unavailableReason: String? = {
        guard getuid() == 0 else { return "the rig needs root (network namespaces, nftables, loop devices)" }
        let tools = ["ip", "nft", "tc", "losetup", "fsfreeze", "mkfs.ext4", "cc"]
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin"
        let missing = tools.filter { tool in !path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") } }
        guard missing.isEmpty else { return "the rig needs \(missing.joined(separator: ", ")) (scripts/setup installs them)" }
        return nil
    }()

    public let directory: String
    /// Each host's address on the rig's network.
    public let addresses: [String: String]

    /// Makes `hosts` under `directory` (created if missing).
    public init(hosts: [String], directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try Self.run(["sweep"], in: directory)
        let listing = try Self.run(["up", directory] + hosts, in: directory)
        var addresses: [String: String] = [:]
        for line in listing.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { addresses[String(parts[0])] = String(parts[1]) }
        }
        guard addresses.count == hosts.count else { throw TestClusterError("rig up listed \(addresses) for hosts \(hosts)") }
        self.addresses = addresses
    }

    public func address(_ host: String) -> String { addresses[host]! }

    /// The argv prefix that runs a command on `host`.
    public func onHost(_ host: String) -> [String] { [Self.script, "exec", directory, host] }

    /// Drops `host`'s traffic: all of it, or only with `peers`.
    public func partition(_ host: String, from peers: [String] = []) throws { try verb(["partition", directory, host] + peers) }
    /// Lets `peer`'s packets to `host` through only while they carry no data: requests from
    /// `host` arrive, and their answers are lost.
    public func loseAnswers(to host: String, from peer: String, port: Int) throws { try verb(["lose-answers", directory, host, peer, String(port)]) }
    public func loss(_ host: String, percent: Int) throws { try verb(["loss", directory, host, String(percent)]) }
    public func bandwidth(_ host: String, _ rate: String) throws { try verb(["bandwidth", directory, host, rate]) }
    public func heal(_ hosts: String...) throws { try verb(["heal", directory] + hosts) }
    /// Steps the wall clock of every process on `host` by `offset` from true time (`+600`, `-10`, `+1d`, `0`).
    public func clock(_ host: String, offset: String) throws { try verb(["clock", directory, host, offset]) }
    /// A loop-mounted ext4 of `size` (e.g. `64M`) for `host`; returns its mount point.
    public func disk(_ host: String, size: String) throws -> String {
        try Self.run(["disk", directory, host, size], in: directory).trimmingCharacters(in: .whitespacesAndNewlines)
    }
    public func freeze(_ host: String) throws { try verb(["freeze", directory, host]) }
    public func thaw(_ host: String) throws { try verb(["thaw", directory, host]) }
    public func fill(_ host: String) throws { try verb(["fill", directory, host]) }
    public func unfill(_ host: String) throws { try verb(["unfill", directory, host]) }
    public func readOnly(_ host: String, _ on: Bool) throws { try verb(["readonly", directory, host, on ? "on" : "off"]) }

    /// Kills every process on the rig's hosts and removes the hosts, disks and network.
    public func down() {
        _ = try? Self.run(["down", directory], in: directory)
    }

    private func verb(_ arguments: [String]) throws { _ = try Self.run(arguments, in: directory) }

    /// Runs the rig script to its end (its verbs are quick); throws with its output if it fails.
    @discardableResult
    static func run(_ arguments: [String], in directory: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["RIG_OWNER"] = String(getpid())
        environment["PATH"] = (environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        process.environment = environment
        let output = directory + "/rig-\(UUID().uuidString.prefix(8)).out"
        FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try? handle.close()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: output)
        guard process.terminationStatus == 0 else {
            throw TestClusterError("rig \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(text)")
        }
        return text
    }
}
