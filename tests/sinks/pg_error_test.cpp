// The one vocabulary of PostgreSQL errors (issue 17): every category decided by SQLSTATE (and,
// for a missing partition, the error's fields), never by the message, whose language follows the
// server's lc_messages.
#include "sinks/pg_error.h"

#include <gtest/gtest.h>

#include <string>

namespace sentinel {
namespace {

using C = PgErrorCategory;

PgErrorFields naming(std::string table, std::string constraint = {}) {
  PgErrorFields f;
  f.table = std::move(table);
  f.constraint = std::move(constraint);
  return f;
}

TEST(PgErrorClassifier, EveryCategoryBySqlstate) {
  struct Case {
    const char* sqlstate;
    C category;
  };
  for (const Case& c : {
           Case{"", C::kTransient},  // no server answer: refused, reset, timed out
           {"08006", C::kTransient},     {"08P01", C::kTransient},     {"57P01", C::kTransient},
           {"57P03", C::kTransient},     {"40001", C::kTransient},     {"40P01", C::kTransient},
           {"53300", C::kTransient},     {"53200", C::kTransient},     {"55P03", C::kTransient},
           {"57014", C::kTransient},     {"25006", C::kTransient},     {"22003", C::kRowRefused},
           {"22P02", C::kRowRefused},    {"22021", C::kRowRefused},    {"23505", C::kRowRefused},
           {"23502", C::kRowRefused},    {"42501", C::kConfiguration}, {"42P01", C::kConfiguration},
           {"42703", C::kConfiguration}, {"42883", C::kConfiguration}, {"3D000", C::kConfiguration},
           {"28000", C::kConfiguration}, {"28P01", C::kConfiguration}, {"42601", C::kFatal},
           {"XX000", C::kFatal},         {"P0001", C::kFatal},
       }) {
    EXPECT_EQ(category_name(classify_pg_error(c.sqlstate)), category_name(c.category))
        << "SQLSTATE '" << c.sqlstate << "'";
  }
}

// The classifier knew only the two built-in tables: a catalog type's table missing its month
// partition had its rows bisected into db_rejected rejects instead of the partition being made.
TEST(PgErrorClassifier, A23514NamingNoConstraintIsAMissingPartitionOfAnyTableACatalogAdds) {
  // PostgreSQL 15 names only the partitioned parent; older servers name nothing.
  EXPECT_EQ(classify_pg_error("23514", naming("audit_logs")), C::kMissingPartition);
  EXPECT_EQ(classify_pg_error("23514", naming("invocations")), C::kMissingPartition);
  EXPECT_EQ(classify_pg_error("23514", naming("guardrail_events")), C::kMissingPartition);
  EXPECT_EQ(classify_pg_error("23514", {}), C::kMissingPartition);
  // A CHECK violation names its constraint: the row's fault.
  EXPECT_EQ(classify_pg_error("23514", naming("invocations", "invocations_check")), C::kRowRefused);
  EXPECT_EQ(classify_pg_error("23514", naming("guardrail_events", "score_check")), C::kRowRefused);
}

TEST(PgErrorClassifier, EveryCategoryHasAName) {
  for (int c = 0; c < static_cast<int>(C::kCount); ++c) {
    EXPECT_NE(category_name(static_cast<C>(c)), "unknown") << c;
  }
  EXPECT_EQ(category_name(C::kMissingPartition), "missing_partition");
}

TEST(PgErrorClassifier, ConfigurationErrorsNameTheFix) {
  EXPECT_NE(PgError("x", "42501").fix().find("grant it sentinel_ingest"), std::string::npos);
  EXPECT_NE(PgError("x", "42P01").fix().find("sentinel-ingest migrate"), std::string::npos);
  EXPECT_NE(PgError("x", "3D000").fix().find("database does not exist"), std::string::npos);
  EXPECT_NE(PgError("x", "28P01").fix().find("its user and password"), std::string::npos);
  const PgError utf8 = PgError::misconfigured("client_encoding is LATIN1", "make it UTF8");
  EXPECT_TRUE(utf8.configuration());
  EXPECT_FALSE(utf8.transient());
  EXPECT_EQ(utf8.fix(), "make it UTF8");
}

// The server's messages follow its lc_messages: the same refusal in English, German and French
// is the same category, with the same fix.
TEST(PgErrorClassifier, ALocalizedServerMessageIsClassifiedTheSame) {
  struct Same {
    const char* sqlstate;
    const char* english;
    const char* german;
    const char* french;
  };
  for (const Same& s : {
           Same{"42501", "permission denied for table audit_logs",
                "keine Berechtigung für Tabelle audit_logs",
                "droit refusé pour la table audit_logs"},
           {"3D000", "database \"x\" does not exist", "Datenbank »x« existiert nicht",
            "la base de données « x » n'existe pas"},
           {"28P01", "password authentication failed for user \"u\"",
            "Passwort-Authentifizierung für Benutzer »u« fehlgeschlagen",
            "authentification par mot de passe échouée pour l'utilisateur « u »"},
           {"57P01", "terminating connection due to administrator command",
            "Verbindung wird abgebrochen aufgrund von Anweisung des Administrators",
            "arrêt des connexions suite à la demande de l'administrateur"},
           {"23505", "duplicate key value violates unique constraint",
            "doppelter Schlüsselwert verletzt Unique-Constraint",
            "la valeur d'une clé dupliquée rompt la contrainte unique"},
       }) {
    const PgError en(s.english, s.sqlstate), de(s.german, s.sqlstate), fr(s.french, s.sqlstate);
    EXPECT_EQ(de.category(), en.category()) << s.german;
    EXPECT_EQ(fr.category(), en.category()) << s.french;
    EXPECT_EQ(de.fix(), en.fix()) << s.german;
  }
  // And words alone classify nothing: an English "does not exist" without an SQLSTATE is a
  // server that did not answer (transient), not a configuration error.
  EXPECT_TRUE(PgError("database \"x\" does not exist", "").transient());
}

}  // namespace
}  // namespace sentinel
