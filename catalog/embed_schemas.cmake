# Writes OUT: a C++ file defining sentinel::embedded_event_schemas() from the files in FILES
# (paths joined by '|'), in the order given.
set(body "#include \"catalog/catalog.h\"\n\nnamespace sentinel {\n\nconst std::vector<EmbeddedSchema>& embedded_event_schemas() {\n  static const std::vector<EmbeddedSchema> k = {\n")
string(REPLACE "|" ";" FILES "${FILES}")
foreach(f ${FILES})
  get_filename_component(name ${f} NAME)
  file(READ ${f} text)
  string(APPEND body "      {\"${name}\", R\"schema_embed(${text})schema_embed\"},\n")
endforeach()
string(APPEND body "  };\n  return k;\n}\n\n}  // namespace sentinel\n")
file(WRITE ${OUT} "${body}")
