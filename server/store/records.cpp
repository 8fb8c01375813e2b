#include "store/records.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/store.hpp"

namespace sb::store {

std::string attributes_to_json(const proto::Attributes& attributes, std::string_view store) {
    auto pairs = nlohmann::json::array();
    for (const auto& [key, value] : attributes)
        pairs.push_back(nlohmann::json::array({key, value}));
    try {
        return pairs.dump();
    } catch (const nlohmann::json::exception&) {  // not UTF-8: JSON cannot carry it
        throw core::StoreError(std::string(store) + ": visitor attributes are not valid UTF-8");
    }
}

proto::Attributes attributes_from_json(std::string_view text, std::string_view store,
                                       std::string_view what) {
    // A parse error yields a "discarded" value, which is not an array.
    const auto pairs = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    const auto is_pair = [](const nlohmann::json& p) {
        return p.is_array() && p.size() == 2 && p[0].is_string() && p[1].is_string();
    };
    if (!pairs.is_array() || !std::all_of(pairs.begin(), pairs.end(), is_pair)) {
        throw core::StoreError(std::string(store) + ": bad " + std::string(what) +
                               " (not an array of [key, value] strings)");
    }
    proto::Attributes out;
    out.reserve(pairs.size());
    for (const auto& pair : pairs)
        out.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
    return out;
}

core::Sender sender_named(std::string_view name, std::string_view store, std::string_view where) {
    if (auto s = proto::sender_from(name)) return *s;
    throw core::StoreError(std::string(store) + ": unknown sender '" + std::string(name) + "' in " +
                           std::string(where));
}

core::ConvState state_named(std::string_view name, std::string_view store, std::string_view where) {
    if (auto s = proto::conv_state_from(name)) return *s;
    throw core::StoreError(std::string(store) + ": unknown state '" + std::string(name) + "' in " +
                           std::string(where));
}

}  // namespace sb::store
