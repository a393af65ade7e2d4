#include "context/subscription_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace zc::context {
namespace {

EntitySubject Element(std::optional<std::string> id, std::optional<std::string> id_pattern,
                      std::optional<std::string> type, std::optional<std::string> type_pattern) {
  EntitySubject e;
  e.id = std::move(id);
  e.type = std::move(type);
  if (id_pattern) e.id_re = std::make_shared<const boost::regex>(*id_pattern);
  if (type_pattern) e.type_re = std::make_shared<const boost::regex>(*type_pattern);
  e.id_pattern = std::move(id_pattern);
  e.type_pattern = std::move(type_pattern);
  return e;
}

Entity Of(std::string id, std::string type) {
  Entity e;
  e.id = std::move(id);
  e.type = std::move(type);
  return e;
}

// The subscriptions of `subjects` (by seq) that match `entity`, as a full scan finds them.
std::vector<uint64_t> Matching(const std::map<uint64_t, std::vector<EntitySubject>>& subjects,
                               const Entity& entity) {
  std::vector<uint64_t> out;
  for (const auto& [seq, subject] : subjects) {
    if (std::ranges::any_of(subject, [&](const auto& s) { return s.Matches(entity); })) {
      out.push_back(seq);
    }
  }
  return out;
}

// Every shape of subject element: the index files each under an id, a type or nothing, and
// must hand out every subscription that matches, in creation order, once each.
TEST(SubjectIndexTest, CandidatesHoldEveryMatchInCreationOrder) {
  std::map<uint64_t, std::vector<EntitySubject>> subjects;
  subjects[1] = {Element("Room1", {}, "Room", {})};
  subjects[2] = {Element({}, ".*", "Room", {})};
  subjects[3] = {Element({}, "^Room", {}, {})};
  subjects[4] = {Element({}, ".*", {}, "^Ro")};
  subjects[5] = {Element("Car7", {}, {}, {})};
  subjects[6] = {Element("Room1", {}, "Room", {}), Element({}, ".*", "Room", {})};  // twice
  subjects[7] = {Element({}, ".*", "Car", {}), Element("Room2", {}, {}, {})};
  subjects[8] = {Element("Room1", {}, "Office", {})};  // filed by id, matches no Room1 Room
  SubjectIndex index;
  for (const auto& [seq, subject] : subjects) index.Add(seq, subject);
  const Entity entities[] = {Of("Room1", "Room"),   Of("Room2", "Room"), Of("Car7", "Car"),
                             Of("Room1", "Office"), Of("Bus1", "Bus"),   Of("Room9", "Robot")};
  std::vector<uint64_t> candidates;
  for (const Entity& entity : entities) {
    index.Candidates(entity.id, entity.type, candidates);
    EXPECT_TRUE(std::ranges::is_sorted(candidates)) << entity.id;
    EXPECT_EQ(std::ranges::adjacent_find(candidates), candidates.end()) << entity.id;
    for (uint64_t seq : Matching(subjects, entity)) {
      EXPECT_TRUE(std::ranges::binary_search(candidates, seq))
          << entity.id << "/" << entity.type << " misses subscription " << seq;
    }
  }
  // It narrows: a bus is offered only the subscriptions that name no id and no type.
  index.Candidates("Bus1", "Bus", candidates);
  EXPECT_EQ(candidates, (std::vector<uint64_t>{3, 4}));
  index.Candidates("Room1", "Room", candidates);
  EXPECT_EQ(candidates, (std::vector<uint64_t>{1, 2, 3, 4, 6, 8}));
}

TEST(SubjectIndexTest, RemoveTakesBackWhatAddFiled) {
  SubjectIndex index;
  const std::vector<EntitySubject> a = {Element("Room1", {}, "Room", {}),
                                        Element({}, ".*", "Room", {})};
  const std::vector<EntitySubject> b = {Element({}, ".*", {}, {})};
  const std::vector<EntitySubject> c = {Element({}, ".*", "Room", {})};
  index.Add(1, a);
  index.Add(2, b);
  index.Add(3, c);
  std::vector<uint64_t> candidates;
  index.Candidates("Room1", "Room", candidates);
  EXPECT_EQ(candidates, (std::vector<uint64_t>{1, 2, 3}));
  index.Remove(1, a);  // as when subscription 1 is deleted
  index.Candidates("Room1", "Room", candidates);
  EXPECT_EQ(candidates, (std::vector<uint64_t>{2, 3}));
  index.Remove(3, c);  // and 3 is updated to a subject of cars: filed again, elsewhere
  index.Add(3, {Element({}, ".*", "Car", {})});
  index.Candidates("Room1", "Room", candidates);
  EXPECT_EQ(candidates, (std::vector<uint64_t>{2}));
  index.Candidates("Car1", "Car", candidates);
  EXPECT_EQ(candidates, (std::vector<uint64_t>{2, 3}));
  index.Remove(2, b);
  index.Remove(3, {Element({}, ".*", "Car", {})});
  EXPECT_TRUE(index.Empty());
}

}  // namespace
}  // namespace zc::context
