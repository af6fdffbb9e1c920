// The SQLite user store: add, replace, find case-insensitively, delete, list, and a second
// connection (as `bulwark user add` in another process) seeing what the first wrote.
#include "store/user_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace bulwark::store {
namespace {

class UserStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("bulwark-user-store-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
    path_ = directory_ / "users.sqlite";
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  std::unique_ptr<UserStore> open() {
    auto store = openSqliteUserStore(path_);
    EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }

  std::filesystem::path directory_;
  std::filesystem::path path_;
};

TEST_F(UserStoreTest, AddFindReplaceDelete) {
  auto store = open();
  ASSERT_TRUE(store->put("Alice@Example.test", "$pbkdf2-sha256$1$AAAA$BBBB"));
  auto found = store->find("alice@example.TEST");
  ASSERT_TRUE(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->name, "Alice@Example.test");
  EXPECT_EQ((*found)->password_hash, "$pbkdf2-sha256$1$AAAA$BBBB");

  ASSERT_TRUE(store->put("alice@example.test", "$pbkdf2-sha256$2$CCCC$DDDD"));
  found = store->find("ALICE@example.test");
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ((*found)->password_hash, "$pbkdf2-sha256$2$CCCC$DDDD");
  EXPECT_EQ((*found)->name, "Alice@Example.test") << "replacing keeps the first spelling";

  auto removed = store->remove("alice@EXAMPLE.test");
  ASSERT_TRUE(removed);
  EXPECT_TRUE(*removed);
  removed = store->remove("alice@example.test");
  ASSERT_TRUE(removed);
  EXPECT_FALSE(*removed);
  found = store->find("alice@example.test");
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->has_value());
}

TEST_F(UserStoreTest, UnknownUserIsNotAnError) {
  auto store = open();
  auto found = store->find("nobody@example.test");
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->has_value());
}

TEST_F(UserStoreTest, NamesAreDataNotSql) {
  auto store = open();
  const std::string name = "x'); DROP TABLE users; --@example.test";
  ASSERT_TRUE(store->put(name, "hash"));
  auto all = store->list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].name, name);
}

TEST_F(UserStoreTest, ListIsSortedAndSecondConnectionSeesWrites) {
  auto writer = open();
  auto reader = open();
  ASSERT_TRUE(writer->put("carol@example.test", "h1"));
  ASSERT_TRUE(writer->put("Bob@example.test", "h2"));
  auto all = reader->list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "Bob@example.test");
  EXPECT_EQ((*all)[1].name, "carol@example.test");
  EXPECT_GT((*all)[0].created.time_since_epoch().count(), 0);
}

}  // namespace
}  // namespace bulwark::store
