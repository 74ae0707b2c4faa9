// Kafka properties whose values are secrets never show up in an error (issue 16): the check is by
// librdkafka's list of sensitive properties plus the words secrets are named with.
#include <gtest/gtest.h>

#include <string>

#include "ingest/kafka_handle.h"

namespace sentinel {
namespace {

constexpr const char* kValue = "Hunter2-SuperSecretValue-77";

const char* const kSensitive[] = {
    "sasl.password",
    "sasl.oauthbearer.config",
    "sasl.oauthbearer.client.secret",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl_key",
    "ssl.keystore.password",
    "ssl.certificate.pem",
    "ssl.ca.pem",
    "sasl.kerberos.keytab",
    // What librdkafka refuses, so that the value would be printed: misspellings and the Java
    // client's names.
    "sasl.jaas.config",
    "ssl.key.passwrd",
    "sasl.oauthbearer.configuration",
    "ssl.keystore.pem",
    "sasl.oauthbearer.token",
    "SSL.KEY.PEM",
    "client.credentials",
    "ssl.truststore.password",
};

TEST(KafkaConf, RedactsEverySensitivePropertyValue) {
  for (const char* key : kSensitive) {
    EXPECT_TRUE(kafka_property_sensitive(key)) << key;
    // With an unknown neighbour so that something is refused either way.
    try {
      make_kafka_conf({{key, kValue}, {"no.such.property", "x"}});
      ADD_FAILURE() << "no.such.property was accepted";
    } catch (const KafkaError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.find(kValue), std::string::npos) << key << ": " << what;
      EXPECT_EQ(what.find("SuperSecret"), std::string::npos) << key << ": " << what;
    }
  }
}

TEST(KafkaConf, ARefusedSensitivePropertyIsNamedButItsValueIsNot) {
  for (const char* key : {"sasl.jaas.config", "ssl.key.passwrd", "ssl_key_pem", "ssl.keytab"}) {
    try {
      make_kafka_conf({{key, kValue}});
      ADD_FAILURE() << key << " was accepted";
    } catch (const KafkaError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(std::string("Kafka property ") + key + "=***"), std::string::npos)
          << what;
      EXPECT_EQ(what.find(kValue), std::string::npos) << what;
    }
  }
}

TEST(KafkaConf, AnOrdinaryRefusedValueIsShownToHelp) {
  EXPECT_FALSE(kafka_property_sensitive("security.protocol"));
  EXPECT_FALSE(kafka_property_sensitive("bootstrap.servers"));
  try {
    make_kafka_conf({{"security.protocol", "SASL_SSLX"}});
    ADD_FAILURE() << "accepted";
  } catch (const KafkaError& e) {
    EXPECT_NE(std::string(e.what()).find("security.protocol=SASL_SSLX"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace sentinel
