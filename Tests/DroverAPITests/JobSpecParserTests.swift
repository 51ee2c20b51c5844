import DroverAPI
import DroverCore
import Foundation
import Testing

/// The field named by the error `yaml` is refused with, or nil when it parses.
func refusedField(_ yaml: String) -> String? {
    do {
        _ = try JobSpecParser.parse(yaml: yaml)
        return nil
    } catch {
        return error.field
    }
}

let minimal = """
    name: j
    team: ml
    command: ["true"]
    """

@Suite struct JobSpecParserTests {
    @Test func parsesAFullSpec() throws {
        let spec = try JobSpecParser.parse(yaml: """
            name: forecast-score
            team: forecasting
            kind: batch
            tasks: 24
            command: ["python3", "score.py", "--horizon", 28]
            env: {HORIZON: "28", DEBUG: true, RATE: 0.5, _PRIVATE: x}
            resources: {cpu: 2, memory: 4GiB, gpu: 1}
            priority: -5
            constraints: ["zone=eu", "gpu.model!=T4"]
            timeout: 30m
            maxAttempts: 4
            maxLostAttempts: 7
            backoff: {initial: 2s, multiplier: 3, max: 5m, jitter: 0.25}
            nonRetryableExitCodes: [2, 127]
            maxFailedTasks: 3
            """)
        #expect(spec.name == "forecast-score" && spec.team == "forecasting" && spec.kind == .batch && spec.taskCount == 24)
        #expect(spec.command == ["python3", "score.py", "--horizon", "28"])
        #expect(spec.environment == ["HORIZON": "28", "DEBUG": "true", "RATE": "0.5", "_PRIVATE": "x"])
        #expect(spec.resources == Resources(millicores: 2000, memoryBytes: 4 << 30, gpus: 1))
        #expect(spec.priority == -5)
        #expect(spec.constraints == [Constraint(key: "zone", op: .equal, value: "eu"), Constraint(key: "gpu.model", op: .notEqual, value: "T4")])
        #expect(spec.timeoutMilliseconds == 1_800_000)
        #expect(spec.retry == RetryPolicy(
            maxAttempts: 4, maxLostAttempts: 7,
            backoff: .init(initialMilliseconds: 2000, multiplier: 3, maxMilliseconds: 300_000, jitter: 0.25),
            nonRetryableExitCodes: [2, 127]))
        #expect(spec.maxFailedTasks == 3)
    }

    @Test func defaultsForAMinimalSpec() throws {
        let spec = try JobSpecParser.parse(yaml: minimal)
        #expect(spec.kind == .training && spec.taskCount == 1 && spec.priority == 0 && spec.environment.isEmpty)
        #expect(spec.resources == JobSpec.defaultResources && spec.retry == RetryPolicy() && spec.timeoutMilliseconds == nil)
        #expect(spec.maxFailedTasks == 0 && spec.constraints.isEmpty)
    }

    @Test func kindDefaultsToBatchForManyTasks() throws {
        let spec = try JobSpecParser.parse(yaml: minimal + "\ntasks: 5")
        #expect(spec.kind == .batch && spec.taskCount == 5)
    }

    @Test func aStringCommandRunsThroughTheShell() throws {
        let spec = try JobSpecParser.parse(yaml: """
            name: j
            team: ml
            command: echo "shard $DROVER_TASK_INDEX" && sleep 1
            """)
        #expect(spec.command == ["/bin/sh", "-c", "echo \"shard $DROVER_TASK_INDEX\" && sleep 1"])
    }

    @Test func jsonIsAcceptedToo() throws {
        let spec = try JobSpecParser.parse(yaml: #"{"name": "j", "team": "ml", "command": ["a", "b"], "resources": {"cpu": "500m", "memory": 1048576}}"#)
        #expect(spec.command == ["a", "b"] && spec.resources.millicores == 500 && spec.resources.memoryBytes == 1 << 20)
    }

    @Test(arguments: [
        // (extra YAML, field the error must name)
        ("colour: blue", "colour"),
        ("resources: {cpu: 1, disk: 10GiB}", "resources.disk"),
        ("backoff: {initial: 1s, factor: 2}", "backoff.factor"),
        ("tasks: ten", "tasks"),
        ("tasks: 0", "tasks"),
        ("tasks: 2.5", "tasks"),
        ("tasks: 20000000", "tasks"),
        ("kind: training\ntasks: 2", "tasks"),
        ("kind: serving", "kind"),
        ("kind: 3", "kind"),
        ("resources: {memory: true}", "resources.memory"),
        ("resources: {memory: lots}", "resources.memory"),
        ("resources: {memory: 0}", "resources.memory"),
        ("resources: {memory: 2PiB}", "resources.memory"),
        ("resources: {memory: -1GiB}", "resources.memory"),
        ("resources: {cpu: -1}", "resources.cpu"),
        ("resources: {cpu: 0}", "resources.cpu"),
        ("resources: {cpu: 1e12}", "resources.cpu"),
        ("resources: {cpu: 1.0e+12}", "resources.cpu"),
        ("resources: {cpu: \"-500m\"}", "resources.cpu"),
        ("resources: {cpu: \"0m\"}", "resources.cpu"),
        ("resources: {cpu: [1]}", "resources.cpu"),
        ("resources: {gpu: -1}", "resources.gpu"),
        ("resources: {gpu: 0.5}", "resources.gpu"),
        ("resources: {gpu: 5000}", "resources.gpu"),
        ("resources: 4", "resources"),
        ("priority: 5000", "priority"),
        ("priority: high", "priority"),
        ("timeout: soon", "timeout"),
        ("timeout: 0s", "timeout"),
        ("timeout: -5", "timeout"),
        ("maxAttempts: 0", "maxAttempts"),
        ("maxAttempts: 1000", "maxAttempts"),
        ("maxLostAttempts: -1", "maxLostAttempts"),
        ("maxFailedTasks: -1", "maxFailedTasks"),
        ("backoff: {multiplier: 0.5}", "backoff.multiplier"),
        ("backoff: {jitter: 2}", "backoff.jitter"),
        ("backoff: {initial: 10m, max: 1m}", "backoff.max"),
        ("backoff: 5s", "backoff"),
        ("nonRetryableExitCodes: 2", "nonRetryableExitCodes"),
        ("nonRetryableExitCodes: [1, 300]", "nonRetryableExitCodes[1]"),
        ("env: {1ABC: x}", "env.1ABC"),
        ("env: {\"MY-VAR\": x}", "env.MY-VAR"),
        ("env: {DROVER_TASK_INDEX: \"3\"}", "env.DROVER_TASK_INDEX"),
        ("env: {A: [1, 2]}", "env.A"),
        ("env: [A=1]", "env"),
        ("constraints: [\"zone\"]", "constraints[0]"),
        ("constraints: [\"zone=eu\", 3]", "constraints[1]"),
        ("constraints: {zone: 3}", "constraints.zone"),
        ("constraints: zone=eu", "constraints"),
    ] as [(String, String)])
    func everyErrorNamesItsField(extra: String, field: String) {
        #expect(refusedField(minimal + "\n" + extra) == field)
    }

    @Test(arguments: [
        ("team: ml\ncommand: [\"true\"]", "name"),
        ("name: j\ncommand: [\"true\"]", "team"),
        ("name: j\nteam: ml", "command"),
        ("name: \"\"\nteam: ml\ncommand: [\"true\"]", "name"),
        ("name: -rf\nteam: ml\ncommand: [\"true\"]", "name"),
        ("name: a/b\nteam: ml\ncommand: [\"true\"]", "name"),
        ("name: j\nteam: [ml]\ncommand: [\"true\"]", "team"),
        ("name: j\nteam: ml\ncommand: \"\"", "command"),
        ("name: j\nteam: ml\ncommand: \"   \"", "command"),
        ("name: j\nteam: ml\ncommand: []", "command"),
        ("name: j\nteam: ml\ncommand: [\"\", \"x\"]", "command[0]"),
        ("name: j\nteam: ml\ncommand: [\"a\", {b: c}]", "command[1]"),
        ("name: j\nteam: ml\ncommand: 42", "command"),
        ("name: 2024-01-01\nteam: ml\ncommand: [\"true\"]", "name"),
    ] as [(String, String)])
    func requiredAndMalformedFields(yaml: String, field: String) {
        #expect(refusedField(yaml) == field)
    }

    @Test(arguments: ["name: [unclosed", "- name: j\n- team: ml", "just a string", "", "42", "name: j\n  team: : ml"])
    func topLevelProblemsNameTheTopLevel(yaml: String) {
        #expect(refusedField(yaml) == "(top level)")
    }

    @Test func unknownTopLevelFieldIsNamedEvenWhenOthersAreBad() {
        #expect(refusedField("name: j\nteam: ml\ncommand: []\nzzz: 1") == "zzz")
    }

    @Test func constraintsAsAList() throws {
        let spec = try JobSpecParser.parse(yaml: minimal + "\nconstraints: [\"zone=eu\", \"arch != arm64\", \"gpu.model=NVIDIA H200\"]")
        #expect(spec.constraints.map(\.description) == ["zone=eu", "arch!=arm64", "gpu.model=NVIDIA H200"])
    }

    @Test func constraintsAsAMapAreEqualities() throws {
        let spec = try JobSpecParser.parse(yaml: minimal + "\nconstraints: {zone: eu, arch: amd64}")
        #expect(spec.constraints == [Constraint(key: "arch", op: .equal, value: "amd64"), Constraint(key: "zone", op: .equal, value: "eu")])
    }

    @Test(arguments: [("2", 2000), ("0.5", 500), ("\"500m\"", 500), ("\"1.5\"", 1500), ("0.001", 1)] as [(String, Int64)])
    func cpuForms(yaml: String, millicores: Int64) throws {
        #expect(try JobSpecParser.parse(yaml: minimal + "\nresources: {cpu: \(yaml)}").resources.millicores == millicores)
    }

    @Test(arguments: [("512MiB", 512 << 20), ("8GiB", 8 << 30), ("100MB", 100_000_000), ("100M", 100 << 20), ("4096", 4096)] as [(String, Int64)])
    func memoryForms(yaml: String, bytes: Int64) throws {
        #expect(try JobSpecParser.parse(yaml: minimal + "\nresources: {memory: \(yaml)}").resources.memoryBytes == bytes)
    }

    @Test(arguments: [("30s", 30_000), ("90", 90_000), ("1h30m", 5_400_000), ("500ms", 500)] as [(String, Int64)])
    func timeoutForms(yaml: String, milliseconds: Int64) throws {
        #expect(try JobSpecParser.parse(yaml: minimal + "\ntimeout: \(yaml)").timeoutMilliseconds == milliseconds)
    }

    @Test func errorsDescribeThemselves() {
        do {
            _ = try JobSpecParser.parse(yaml: minimal + "\nresources: {memory: lots}")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.hasPrefix("resources.memory: "))
            #expect(error.message.contains("512MiB"))
        }
    }
}

@Suite struct ExampleJobTests {
    static let jobsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("cluster/jobs")

    static var exampleFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: jobsDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }.sorted()
    }

    @Test func thereAreExamples() {
        #expect(Self.exampleFiles.count >= 4, "no job specs found in \(Self.jobsDirectory.path)")
    }

    @Test(arguments: exampleFiles)
    func everyExampleJobParses(file: String) throws {
        let text = try String(contentsOf: Self.jobsDirectory.appendingPathComponent(file), encoding: .utf8)
        let spec = try JobSpecParser.parse(yaml: text)
        #expect(!spec.command.isEmpty && spec.taskCount >= 1)
    }
}

/// A spec's errors are reported all at once, a mistyped field with the field it meant.
@Suite struct JobSpecParserAllErrorsTests {
    @Test func everyErrorOfASpecIsReportedTogether() {
        let error = #expect(throws: SpecError.self) {
            try JobSpecParser.parse(yaml: """
                name: j
                team: ml
                command: ["true"]
                timout: 5m
                priority: 5000
                resources: {memory: lots}
                """)
        }
        #expect(error?.all.map(\.field) == ["timout", "resources.memory", "priority"])
        #expect(error?.field == "timout", "the first leads, as before")
        #expect(error?.message.hasPrefix("unknown field; did you mean 'timeout'?") == true, "\(String(describing: error))")
        #expect(error?.description.split(separator: "\n").count == 3)
    }

    @Test func everyErrorInsideResourcesAndEnvIsReportedTogether() {
        let error = #expect(throws: SpecError.self) {
            try JobSpecParser.parse(yaml: """
                name: j
                team: ml
                command: ["true"]
                resources: {cpu: many, memory: lots, gpus: 1}
                env: {"1BAD": x, GOOD: ok, DROVER_X: y, LIST: [1]}
                """)
        }
        #expect(error?.all.map(\.field) == ["env.1BAD", "env.DROVER_X", "env.LIST", "resources.gpus", "resources.cpu", "resources.memory"])
        #expect(error?.all.first { $0.field == "resources.gpus" }?.message.contains("did you mean 'gpu'?") == true, "\(String(describing: error))")
    }

    @Test func aFieldNothingLikeAKnownOneListsTheKnownFields() {
        let error = #expect(throws: SpecError.self) { try JobSpecParser.parse(yaml: minimal + "\nzzzzzz: 1") }
        #expect(error?.message.hasPrefix("unknown field; known fields are ") == true)
        #expect(error?.others == [])
    }
}
