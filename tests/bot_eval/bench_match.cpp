// Match-time benchmark (not a test): a knowledge base of N entries per
// language (default 500), made by replicating the shipped entries with
// distinct product words, queried with every evaluation question.
//
//   bench_match [--entries N] [--rounds R] [--source DIR]
//
// DIR defaults to $SB_SOURCE_DIR, else the first parent of the current
// directory holding kb/en.json. Prints the median, p90 and p99 time of
// Matcher::match and of Bot::on_message (matching + hand-off check + policy).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/bot/bot.hpp"

namespace fs = std::filesystem;
using namespace sb::core::bot;
using Clock = std::chrono::steady_clock;

namespace {

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

fs::path find_source(const char* given) {
    if (given) return given;
    if (const char* env = std::getenv("SB_SOURCE_DIR"); env && *env) return env;
    for (fs::path dir = fs::current_path(); !dir.empty(); dir = dir.parent_path()) {
        if (fs::exists(dir / "kb" / "en.json")) return dir;
        if (dir == dir.parent_path()) break;
    }
    return {};
}

// Words that make each copy of an entry a different topic ("… for the oak sofa").
const char* kProducts[] = {"sofa",     "kurta", "saree",  "laptop", "blender", "sneakers",
                           "jacket",   "lamp",  "phone",  "watch",  "kettle",  "backpack",
                           "mattress", "tent",  "guitar", "drone"};
const char* kMaterials[] = {"oak",    "steel",  "linen", "cotton", "leather",
                            "bamboo", "velvet", "glass", "copper", "wool"};

// entries × copies until `target`: copy k of an entry gets id "<id>.c<k>" and
// its questions end with a product phrase unique to k.
std::string scaled(const std::string& content, std::size_t target) {
    auto doc = nlohmann::json::parse(content);
    const auto original = doc["entries"];
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t k = 0; out.size() < target; ++k) {
        for (const auto& e : original) {
            if (out.size() >= target) break;
            auto copy = e;
            if (k > 0) {
                copy["id"] = e["id"].get<std::string>() + ".c" + std::to_string(k);
                const std::string suffix =
                    std::string(" ") + kMaterials[k % std::size(kMaterials)] + " " +
                    kProducts[(k / std::size(kMaterials)) % std::size(kProducts)];
                for (auto& q : copy["questions"]) q = q.get<std::string>() + suffix;
                copy.erase("follow_ups");
            }
            out.push_back(copy);
        }
    }
    doc["entries"] = out;
    return doc.dump();
}

struct Stats {
    double median, p90, p99, mean;
};

Stats stats(std::vector<double> us) {
    std::sort(us.begin(), us.end());
    const auto at = [&](double q) { return us[static_cast<std::size_t>(q * (us.size() - 1))]; };
    double sum = 0;
    for (const double v : us) sum += v;
    return {at(0.5), at(0.9), at(0.99), sum / static_cast<double>(us.size())};
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t entries = 500, rounds = 50;
    const char* source = nullptr;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--entries")
            entries = std::stoul(argv[i + 1]);
        else if (flag == "--rounds")
            rounds = std::stoul(argv[i + 1]);
        else if (flag == "--source")
            source = argv[i + 1];
    }
    const auto root = find_source(source);
    if (root.empty()) {
        std::fprintf(stderr, "can't find kb/en.json: pass --source or set SB_SOURCE_DIR\n");
        return 2;
    }

    std::vector<KbFile> files;
    struct Query {
        std::string text, locale;
    };
    std::vector<Query> queries;
    for (const std::string lang : {"en", "hi", "tr"}) {
        files.push_back(
            {lang + ".json", scaled(read_file(root / "kb" / (lang + ".json")), entries)});
        const auto set =
            nlohmann::json::parse(read_file(root / "tests" / "bot_eval" / (lang + ".json")));
        const std::string locale = set["locale"];
        for (const auto& q : set["in_scope"]) queries.push_back({q["text"], locale});
        for (const auto& q : set["out_of_scope"]) queries.push_back({q, locale});
    }

    const auto t0 = Clock::now();
    auto loaded = Bot::load(files);
    const auto t1 = Clock::now();
    if (!loaded.bot) {
        for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        return 1;
    }
    const Bot& bot = *loaded.bot;
    std::printf("knowledge base: %zu entries (%zu per language), loaded and indexed in %.1f ms\n",
                bot.knowledge_base().size(), entries,
                std::chrono::duration<double, std::milli>(t1 - t0).count());

    // Warm up: first calls touch ICU data and grow scratch buffers.
    for (const auto& q : queries) bot.matcher().match(q.text, q.locale);

    // Separate passes, so neither call warms the caches for the other.
    std::vector<double> match_us, policy_us;
    match_us.reserve(queries.size() * rounds);
    policy_us.reserve(queries.size() * rounds);
    std::size_t sink = 0;
    for (std::size_t r = 0; r < rounds; ++r) {
        for (const auto& q : queries) {
            const auto a = Clock::now();
            const auto m = bot.matcher().match(q.text, q.locale);
            const auto b = Clock::now();
            sink += m.candidates.size();
            match_us.push_back(std::chrono::duration<double, std::micro>(b - a).count());
        }
    }
    for (std::size_t r = 0; r < rounds; ++r) {
        for (const auto& q : queries) {
            const auto a = Clock::now();
            const auto d = bot.on_message(BotState{}, q.text, q.locale);
            const auto b = Clock::now();
            sink += d.suggestions.size();
            policy_us.push_back(std::chrono::duration<double, std::micro>(b - a).count());
        }
    }
    const auto m = stats(match_us), p = stats(policy_us);
    std::printf("%zu queries x %zu rounds\n", queries.size(), rounds);
    std::printf("Matcher::match    median %6.1f us  p90 %6.1f us  p99 %6.1f us  mean %6.1f us\n",
                m.median, m.p90, m.p99, m.mean);
    std::printf("Bot::on_message   median %6.1f us  p90 %6.1f us  p99 %6.1f us  mean %6.1f us\n",
                p.median, p.p90, p.p99, p.mean);
    return sink == 0 ? 1 : 0;
}
