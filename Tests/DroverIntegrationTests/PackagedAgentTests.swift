import DroverAPI
import DroverClient
import DroverTesting
import Foundation
import Glibc
import Testing

/// The tarball of `scripts/package`, installed into a minimal Debian root without Swift (made
/// by `scripts/package-test` with debootstrap, holding only the packages its LIBRARIES names),
/// runs as an agent there against a coordinator outside, and a job succeeds on it (issue 19,
/// item 7). `scripts/package-test` prepares the root and runs this suite; elsewhere it is off.
private let packageRoot = ProcessInfo.processInfo.environment["DROVER_PACKAGE_ROOT"]

@Suite(.enabled(if: packageRoot != nil && getuid() == 0,
                "run by scripts/package-test, as root: it sets DROVER_PACKAGE_ROOT to a Debian root holding the packaged drover"))
struct PackagedAgentTests {
    @Test func thePackagedBinaryRunsAJobAsAnAgentInARootWithoutSwift() async throws {
        let root = try #require(packageRoot)
        let installed = root + "/usr/local/bin/drover"
        #expect(FileManager.default.isExecutableFile(atPath: installed), "the installer put the binary at /usr/local/bin/drover")
        // Nothing of Swift in the root: only what LIBRARIES names besides Debian's minimal base.
        #expect(!FileManager.default.fileExists(atPath: root + "/opt/swift"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/usr/lib").allSatisfy { !$0.hasPrefix("swift") })

        let cluster = try await TestCluster.start(agents: 0)
        defer { cluster.stopNow() }
        // A mount namespace of its own, so /proc and /dev are mounted in the root only for the
        // agent's life; then the installed binary, run inside the root.
        let workDirectory = "/var/lib/drover-agent-\(UUID().uuidString.prefix(8))"
        let agent = ["drover", "agent", "--coordinator", cluster.url, "--join-token", cluster.joinToken, "--name", "packaged",
                     "--work-dir", workDirectory, "--cpu", "1", "--memory", "1GiB", "--gpu", "0", "--kill-grace", "1s"]
        try cluster.startAgentProcess(name: "packaged", argv: [
            "/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
            #"mount -t proc proc "$0/proc" && mount --rbind /dev "$0/dev" && exec chroot "$0" /usr/local/bin/"$@""#, root,
        ] + agent)
        defer { try? FileManager.default.removeItem(atPath: root + workDirectory) }
        try await cluster.waitUntil("the packaged agent to register", timeout: .seconds(60)) {
            (try? await cluster.client.nodes().contains { $0.name == "packaged" && $0.state == .ready }) == true
        }

        let job = try await cluster.client.submit(.object([
            "name": .string("on-debian"), "team": .string("ml"), "maxAttempts": .number(1),
            "command": .string(#"echo "hello from Debian $(cat /etc/debian_version), uid $(id -u)"; test ! -e /opt/swift"#),
        ]))
        let waited = try await cluster.drover(["wait", job.id])
        let view = try await cluster.client.job(job.id)
        #expect(waited.status == 0 && view.state == .succeeded, "job: \(view.state) \(view.reason ?? ""); agent: \(cluster.diagnostics())")
        #expect(view.attempts?.first?.node == "packaged")
        let output = String(decoding: try await cluster.client.logs(job: job.id, task: 0).data, as: UTF8.self)
        #expect(output.contains("hello from Debian "), "output: \(output)")
        // As root in the root, the agent ran the task as an unprivileged uid of its own.
        #expect(!output.contains("uid 0"), "output: \(output)")
    }
}
