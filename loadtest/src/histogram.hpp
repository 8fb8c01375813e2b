// A log-linear latency histogram in the manner of HdrHistogram: every power of
// two is split into 64 equal sub-buckets, so a recorded value is kept to within
// 1/64 (about 1.6 %) of itself from 1 ns up to about 36 minutes, in a fixed
// 19 KB array. Recording is a few instructions; histograms of worker threads
// are merged at the end.
#pragma once

#include <array>
#include <cstdint>

namespace sb::loadtest {

class Histogram {
  public:
    static constexpr int kSubBits = 6;  // 64 sub-buckets per power of two
    static constexpr int kSub = 1 << kSubBits;
    static constexpr int kMaxShift = 34;  // top bucket starts at 2^40 ns
    static constexpr int kBuckets = (kMaxShift + 2) * kSub;

    void record(std::uint64_t value_ns);
    void merge(const Histogram& other);
    void reset() { *this = Histogram{}; }

    std::uint64_t count() const { return count_; }
    std::uint64_t min() const { return count_ ? min_ : 0; }
    std::uint64_t max() const { return max_; }
    double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
    // The value at or below which `q` (0..1) of the recorded values lie, given
    // as the upper end of its bucket (never above max()).
    std::uint64_t percentile(double q) const;

    static int bucket_of(std::uint64_t value);
    static std::uint64_t bucket_high(int bucket);  // largest value in the bucket

  private:
    std::array<std::uint64_t, kBuckets> buckets_{};
    std::uint64_t count_ = 0;
    std::uint64_t sum_ = 0;
    std::uint64_t min_ = UINT64_MAX;
    std::uint64_t max_ = 0;
};

}  // namespace sb::loadtest
