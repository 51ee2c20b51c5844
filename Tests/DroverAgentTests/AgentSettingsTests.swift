import DroverAPI
import DroverCore
import Foundation
import Testing
@testable import DroverAgent

/// The agent's settings, by the one resolver: flags > environment > file > defaults.
@Suite struct AgentSettingsTests {
    /// A join token is required; most tests give it as a flag.
    let token = ["join-token": "j"]

    @Test func aFlagBeatsTheEnvironmentWhichBeatsTheFileWhichBeatsTheDefault() throws {
        let file: [String: JSONValue] = ["cpu": .number(2), "memory": .string("4GiB"), "killGrace": .string("3s"), "name": .string("from-file")]
        let environment = ["DROVER_AGENT_CPU": "3", "DROVER_AGENT_MEMORY": "6GiB", "DROVER_COORDINATOR": "http://c.internal:7070"]
        let configuration = try AgentConfiguration.resolve(flags: token.merging(["cpu": "4"]) { $1 }, environment: environment,
                                                           file: file, fileName: "agent.yaml")
        #expect(configuration.cpu == 4)                                   // flag
        #expect(configuration.memoryBytes == 6 << 30)                     // environment
        #expect(configuration.coordinatorURL == "http://c.internal:7070") // environment
        #expect(configuration.killGrace == .seconds(3))                   // file
        #expect(configuration.name == "from-file")                        // file
        #expect(configuration.gpus == nil)                                // default: detected
        #expect(configuration.pollWait == .seconds(20))                   // not a setting
    }

    @Test func everySettingHasAFlagAVariableAndAFileFieldThatAllWork() throws {
        // Given each setting's example value, every one of its three names sets it alike.
        let examples: [String: String] = [
            "coordinator": "https://c.internal:7443", "joinToken": "t", "caCert": "/ca.pem", "name": "gpu-a", "cpu": "4", "memory": "8GiB",
            "gpu": "2", "labels": "zone=eu", "priceCpuHour": "0.05", "priceMemoryGibHour": "0.005", "priceGpuHour": "1.01",
            "workDir": "/w", "checkpointDir": "/ckpt", "killGrace": "3s", "disconnectGrace": "40s", "nvidiaSmi": "/bin/smi",
            "keepWorkDirs": "true", "caPin": "sha256:" + String(repeating: "ab", count: 32), "taskUids": "100-200",
        ]
        #expect(Set(examples.keys) == Set(AgentConfiguration.settings.map(\.key)), "a new setting needs an example here")
        for setting in AgentConfiguration.settings {
            let text = try #require(examples[setting.key])
            // (A pin needs an https coordinator: that comes as a flag.)
            let given = setting.key == "joinToken" ? [:] : setting.key == "caPin" ? token.merging(["coordinator": "https://c.internal:7443"]) { $1 } : token
            let byFlag = try AgentConfiguration.resolve(flags: given.merging([setting.flag: text]) { $1 }, environment: [:])
            let byEnvironment = try AgentConfiguration.resolve(flags: given, environment: [setting.environment: text])
            let byFile = try AgentConfiguration.resolve(flags: given, environment: [:], file: [setting.key: .string(text)], fileName: "/etc/a.yaml")
            #expect(String(describing: byFlag) == String(describing: byEnvironment), "\(setting.key)")
            #expect(String(describing: byFlag) == String(describing: byFile), "\(setting.key)")
            let defaults = try AgentConfiguration.resolve(flags: ["join-token": setting.key == "joinToken" ? "other" : "j"], environment: [:])
            #expect(String(describing: byFlag) != String(describing: defaults), "\(setting.key) changed nothing")
        }
    }

    @Test func theDocumentedNamesKeepWorking() {
        // The contract's names: --coordinator/DROVER_COORDINATOR, --join-token/DROVER_JOIN_TOKEN, --ca-cert/DROVER_CA_CERT.
        let names = Dictionary(uniqueKeysWithValues: AgentConfiguration.settings.map { ($0.flag, $0.environment) })
        #expect(names["coordinator"] == "DROVER_COORDINATOR")
        #expect(names["join-token"] == "DROVER_JOIN_TOKEN")
        #expect(names["ca-cert"] == "DROVER_CA_CERT")
        #expect(names["ca-pin"] == "DROVER_CA_PIN")
        // The agent's own variables never take a name a task is given (DROVER_WORK_DIR, DROVER_CHECKPOINT_DIR).
        #expect(!names.values.contains("DROVER_WORK_DIR") && !names.values.contains("DROVER_CHECKPOINT_DIR"))
    }

    @Test func labelsComeAsRepeatedFlagsAListOrAMapping() throws {
        let byFlags = try AgentConfiguration.resolve(flags: token.merging(["label": "zone=eu\ninstance=g5.xlarge"]) { $1 }, environment: [:])
        let byVariable = try AgentConfiguration.resolve(flags: token, environment: ["DROVER_AGENT_LABELS": "zone=eu, instance=g5.xlarge"])
        let byMapping = try AgentConfiguration.resolve(flags: token, environment: [:],
                                                       file: ["labels": .object(["zone": .string("eu"), "instance": .string("g5.xlarge")])])
        let byList = try AgentConfiguration.resolve(flags: token, environment: [:], file: ["labels": .array([.string("zone=eu"), .string("instance=g5.xlarge")])])
        for configuration in [byFlags, byVariable, byMapping, byList] {
            #expect(configuration.labels == ["zone": "eu", "instance": "g5.xlarge"])
        }
    }

    @Test func aBadValueNamesWhereItCameFromAndWhatIsExpected() {
        #expect(throws: ConfigurationError("--cpu: '0' is not a number above 0")) {
            try AgentConfiguration.resolve(flags: token.merging(["cpu": "0"]) { $1 }, environment: [:])
        }
        #expect(throws: ConfigurationError("DROVER_AGENT_MEMORY: 'lots' is not a size such as 8GiB")) {
            try AgentConfiguration.resolve(flags: token, environment: ["DROVER_AGENT_MEMORY": "lots"])
        }
        #expect(throws: ConfigurationError("a.yaml: killGrace: 'soon' is not a duration such as 10s")) {
            try AgentConfiguration.resolve(flags: token, environment: [:], file: ["killGrace": .string("soon")], fileName: "a.yaml")
        }
        #expect(throws: ConfigurationError("DROVER_COORDINATOR: 'coordinator:7070' has no scheme; did you mean http://coordinator:7070? (https:// for a coordinator beyond loopback)")) {
            try AgentConfiguration.resolve(flags: token, environment: ["DROVER_COORDINATOR": "coordinator:7070"])
        }
        #expect(throws: ConfigurationError("--label: 'zone' is not k=v")) {
            try AgentConfiguration.resolve(flags: token.merging(["label": "zone"]) { $1 }, environment: [:])
        }
        #expect(throws: ConfigurationError("a.yaml: keepWorkDirs: 'maybe' is not true or false")) {
            try AgentConfiguration.resolve(flags: token, environment: [:], file: ["keepWorkDirs": .string("maybe")], fileName: "a.yaml")
        }
    }

    @Test func aMissingJoinTokenSaysHowToGiveOne() {
        #expect(throws: ConfigurationError("a join token is required: pass --join-token or set DROVER_JOIN_TOKEN (or joinToken in the --config file)")) {
            try AgentConfiguration.resolve(flags: [:], environment: [:])
        }
    }

    @Test(arguments: [("memroy", "memory"), ("keep_work_dirs", "keepWorkDirs"), ("killgrace", "killGrace"), ("priceGpuHours", "priceGpuHour")])
    func anUnknownFileFieldSuggestsTheOneMeant(typed: String, meant: String) {
        let error = #expect(throws: ConfigurationError.self) {
            try AgentConfiguration.resolve(flags: token, environment: [:], file: [typed: .string("1")], fileName: "a.yaml")
        }
        #expect(error?.description.hasPrefix("a.yaml: unknown field '\(typed)' (did you mean '\(meant)'?); known fields are caCert, ") == true,
                "\(String(describing: error))")
    }

    @Test func aFieldFarFromEveryKnownOneGetsNoSuggestion() {
        let error = #expect(throws: ConfigurationError.self) {
            try AgentConfiguration.resolve(flags: token, environment: [:], file: ["leaseTtl": .string("20s")], fileName: "a.yaml")
        }
        #expect(error?.description.hasPrefix("a.yaml: unknown field 'leaseTtl'; known fields are ") == true, "\(String(describing: error))")
    }

    @Test func aPathInTheFileIsRelativeToTheFile() throws {
        let configuration = try AgentConfiguration.resolve(flags: token, environment: [:], file: ["workDir": .string("work"), "caCert": .string("/etc/ca.pem")],
                                                           fileName: "/etc/drover/agent.yaml")
        #expect(configuration.workDirectory == "/etc/drover/work")
        #expect(configuration.caCertificate == "/etc/ca.pem")
    }

    @Test func theExampleConfigurationLoads() throws {
        let path = Self.root.appendingPathComponent("cluster/config/agent.yaml").path
        let file = try AgentConfiguration.settings.loadFile(path)
        let configuration = try AgentConfiguration.resolve(flags: token, environment: [:], file: file, fileName: path)
        #expect(configuration.labels["instance"] == "g5.xlarge")
        #expect(configuration.prices.gpuHour == Decimal(string: "1.01"))
    }

    @Test func theReadmeListsEverySettingInOneTable() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains(AgentConfiguration.settingsTable),
                "README.md's agent settings table is out of date; paste AgentConfiguration.settingsTable:\n\(AgentConfiguration.settingsTable)")
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
