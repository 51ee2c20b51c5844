import DroverAgent
import DroverTesting
import Foundation
import Testing

/// `drover demo`, the README's first command, run as a user runs it: to its end, with the
/// forecast report and the cost table. As root (CI) its agents run each task as a uid of its
/// own, so this also checks that those tasks can read the workloads (from a checkout they may
/// not enter) and share the demo's data directory.
@Suite struct DemoTests {
    @Test func theDemoTrainsScoresAndReportsToTheEnd() async throws {
        let directory = NSTemporaryDirectory() + "drover-demo-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        // The workloads where only their owner may enter, as a checkout under /root is.
        let privateDirectory = directory + "/private"
        try FileManager.default.createDirectory(atPath: privateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.copyItem(atPath: repository + "/cluster/demo", toPath: privateDirectory + "/demo")
        let demo = try RunningProcess.spawn(ProcessLaunch(
            argv: [TestCluster.binary, "demo", "--workloads", privateDirectory + "/demo"],
            environment: ProcessInfo.processInfo.environment, workingDirectory: repository, outputPath: directory + "/demo.out"))
        let exit = await withTaskGroup(of: ProcessExit?.self) { group in
            group.addTask { await demo.wait() }
            group.addTask {
                try? await Task.sleep(for: .seconds(240))
                return nil
            }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
        if exit == nil { _ = await demo.terminate(grace: .seconds(2)) }
        let output = (try? String(contentsOfFile: directory + "/demo.out", encoding: .utf8)) ?? ""
        #expect(exit?.exitCode == 0, "\(output)")
        #expect(output.contains("job 1 succeeded: 1/1 tasks succeeded"), "\(output)")
        #expect(output.contains("job 2 succeeded: 24/24 tasks succeeded"), "\(output)")
        #expect(output.contains("shards:  24"), "the report read every shard's forecast: \(output)")
        #expect(output.contains("Done: 2 jobs"), "\(output)")
    }
}
