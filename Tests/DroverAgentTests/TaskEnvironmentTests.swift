import DroverAPI
import Foundation
import Testing

@testable import DroverAgent

struct TaskEnvironmentTests {
    let paths = AttemptPaths(directory: "/work/scratch/3", checkpoints: "/work/checkpoints/7/task-2")

    @Test func droverVariablesDescribeTheAttempt() {
        var lease = makeLease("101", task: 2)
        lease.gpus = [1, 3]
        let environment = TaskEnvironment(inheriting: [:]).variables(for: lease, at: paths)
        #expect(environment == [
            "DROVER_JOB_ID": "7", "DROVER_JOB_NAME": "job", "DROVER_TEAM": "ml", "DROVER_TASK_INDEX": "2", "DROVER_TASK_COUNT": "5",
            "DROVER_ATTEMPT": "1", "DROVER_ATTEMPT_ID": "101", "DROVER_WORK_DIR": "/work/scratch/3",
            "DROVER_CHECKPOINT_DIR": "/work/checkpoints/7/task-2", "DROVER_PROGRESS_FILE": "/work/scratch/3/progress.jsonl",
            "DROVER_GPU_IDS": "1,3", "CUDA_VISIBLE_DEVICES": "1,3",
        ])
        #expect(paths.output == "/work/scratch/3/output.log")
    }

    @Test func theAgentsEnvironmentThenTheJobsThenDroversWin() {
        let inherited = ["PATH": "/bin", "HOME": "/root", "DROVER_JOIN_TOKEN": "secret", "LANG": "C"]
        let lease = makeLease(env: ["LANG": "en_US.UTF-8", "DROVER_TASK_INDEX": "99", "MODEL": "small"])
        let environment = TaskEnvironment(inheriting: inherited).variables(for: lease, at: paths)
        #expect(environment["PATH"] == "/bin")
        #expect(environment["DROVER_JOIN_TOKEN"] == nil, "the agent's own DROVER_ variables are not passed on")
        #expect(environment["LANG"] == "en_US.UTF-8", "the job's env overrides the agent's")
        #expect(environment["MODEL"] == "small")
        #expect(environment["DROVER_TASK_INDEX"] == "0", "Drover's variables override the job's")
    }

    @Test func theLatestProgressIsTheLastCompleteJSONObjectLine() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/progress.jsonl"
        #expect(ProgressFile.latest(at: path) == nil, "no file yet")
        #expect(ProgressFile.latest(at: nil) == nil)
        try "{\"progress\":0.1}\n{\"progress\":0.2,\"metrics\":{\"loss\":0.5}}\n[1,2]\n{\"progress\":0.3".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(ProgressFile.latest(at: path) == .object(["progress": .number(0.2), "metrics": .object(["loss": .number(0.5)])]),
                "a half-written line and a non-object line are skipped")
    }

    @Test func onlyTheTailOfALargeProgressFileIsRead() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/progress.jsonl"
        // The only object line lies before the last 8 KiB: it is not found.
        try ("{\"progress\":1}\n" + String(repeating: "x", count: 9000) + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(ProgressFile.latest(at: path) == nil)
    }
}
