#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sb::loadtest {

int Histogram::bucket_of(std::uint64_t v) {
    if (v < 2 * kSub) return static_cast<int>(v);  // exact below 128 ns
    int msb = 63 - std::countl_zero(v);
    int shift = msb - kSubBits;  // v >> shift keeps 7 bits: [64, 128)
    if (shift > kMaxShift) return kBuckets - 1;
    // Values [2^msb, 2^(msb+1)) map to kSub buckets of width 2^shift.
    return shift * kSub + static_cast<int>(v >> shift);
}

std::uint64_t Histogram::bucket_high(int b) {
    if (b < 2 * kSub) return static_cast<std::uint64_t>(b);
    int shift = b / kSub - 1;
    std::uint64_t top = static_cast<std::uint64_t>(b - shift * kSub);
    return ((top + 1) << shift) - 1;
}

void Histogram::record(std::uint64_t v) {
    ++buckets_[bucket_of(v)];
    ++count_;
    sum_ += v;
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
}

void Histogram::merge(const Histogram& o) {
    for (int i = 0; i < kBuckets; ++i) buckets_[i] += o.buckets_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
}

std::uint64_t Histogram::percentile(double q) const {
    if (count_ == 0) return 0;
    q = std::clamp(q, 0.0, 1.0);
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    rank = std::max<std::uint64_t>(rank, 1);
    std::uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
        seen += buckets_[i];
        if (seen >= rank) return std::clamp(bucket_high(i), min_, max_);
    }
    return max_;
}

}  // namespace sb::loadtest
