// switchboard-loadtest: parse the command line, run one scenario, report.
#include <csignal>
#include <iostream>

#include "harness.hpp"

int main(int argc, char** argv) {
    using namespace sb::loadtest;
    auto parsed = parse_options(argc, argv);
    if (parsed.help) {
        std::cout << usage();
        return 0;
    }
    if (!parsed.options) {
        std::cerr << "switchboard-loadtest: " << parsed.error << "\n\n" << usage();
        return 2;
    }
    const Options& o = *parsed.options;
    std::signal(SIGPIPE, SIG_IGN);
    auto machine = Machine::read();

    Results r;
    switch (o.scenario) {
        case Scenario::idle:
            r = run_idle(o);
            break;
        case Scenario::fanout:
            r = run_fanout(o);
            break;
        case Scenario::conversations:
        case Scenario::churn:
        case Scenario::cluster:
            r = run_conversations(o);
            break;
    }
    print_summary(o, machine, r);
    if (!o.json_file.empty() && !write_json(o.json_file, o, machine, r)) return 3;
    if (!r.failure.empty()) return 2;
    return r.lost > 0 ? 1 : 0;
}
