// An immutable list shared by every instruction that carries it (a collective's members and
// what each member holds): copied per member, a data-parallel group of 8,192 GPUs would cost
// 8,192^2 entries.
#pragma once

#include <initializer_list>
#include <memory>
#include <utility>
#include <vector>

namespace spindle {

template <class T>
class SharedList {
 public:
  SharedList() = default;
  SharedList(std::vector<T> items) : items_(std::make_shared<const std::vector<T>>(std::move(items))) {}  // NOLINT
  SharedList(std::initializer_list<T> items) : SharedList(std::vector<T>(items)) {}
  const std::vector<T>& items() const { return items_ ? *items_ : empty(); }
  operator const std::vector<T>&() const { return items(); }  // NOLINT: reads as the vector
  size_t size() const { return items().size(); }
  const T& operator[](size_t i) const { return items()[i]; }
  typename std::vector<T>::const_iterator begin() const { return items().begin(); }
  typename std::vector<T>::const_iterator end() const { return items().end(); }
  const T& front() const { return items().front(); }
  const T& back() const { return items().back(); }
  friend bool operator==(const SharedList& a, const SharedList& b) { return a.items_ == b.items_ || a.items() == b.items(); }

 private:
  static const std::vector<T>& empty() {
    static const std::vector<T> none;
    return none;
  }
  std::shared_ptr<const std::vector<T>> items_;
};

}  // namespace spindle
