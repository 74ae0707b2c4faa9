# Writes OUT: a C++ file defining sentinel::embedded_migrations() from the SQL files in FILES
# (paths joined by '|').
set(body "#include \"schemas/migrations.h\"\n\nnamespace sentinel {\n\nconst std::vector<EmbeddedMigration>& embedded_migrations() {\n  static const std::vector<EmbeddedMigration> k = {\n")
string(REPLACE "|" ";" FILES "${FILES}")
foreach(f ${FILES})
  get_filename_component(name ${f} NAME_WE)
  string(SUBSTRING ${name} 0 3 version)
  math(EXPR version "${version}")
  file(READ ${f} sql)
  string(APPEND body "      {${version}, \"${name}\", R\"sql_embed(${sql})sql_embed\"},\n")
endforeach()
string(APPEND body "  };\n  return k;\n}\n\n}  // namespace sentinel\n")
file(WRITE ${OUT} "${body}")
