# Reference values for nethep/exact.py, computed with R's own implementations.
#
#   fisher.test(m)$p.value      two-sided Fisher (2 x 2) / Fisher-Freeman-Halton
#                               (r x c, FEXACT network algorithm) exact P
#   binom.test(k, n)$conf.int   Clopper-Pearson exact binomial interval
#
# Usage, from the repository root:
#
#   Rscript tests/reference/make_exact_reference.R
#
# writes tests/reference/exact.json next to this script. The output holds no
# timestamps or paths, so re-running it on the same R version gives identical bytes.
# jsonlite's digits = NA writes 15 significant digits, ample for the 1e-9 relative
# tolerance that tests/test_exact.py applies.

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "setup.R"))  # survival, jsonlite, script_dir, setwd(script_dir): setup.R
out_path <- "exact.json"

# Each table is written row by row, so the JSON "table" is a list of rows.
tables <- list(
  list(name = "2x2 balanced",
       table = rbind(c(3, 1), c(1, 3))),
  list(name = "2x2 tea tasting",
       table = rbind(c(4, 0), c(0, 4))),
  list(name = "2x2 moderate",
       table = rbind(c(12, 5), c(6, 14))),
  list(name = "2x2 with zero cell",
       table = rbind(c(0, 9), c(7, 5))),
  list(name = "2x2 zero margin row",
       table = rbind(c(3, 4), c(0, 0))),
  list(name = "2x3 palliation-like",
       table = rbind(c(3, 7, 5), c(5, 4, 1))),
  list(name = "2x3 n=30",
       table = rbind(c(6, 4, 5), c(2, 7, 6))),
  list(name = "2x3 with zeros",
       table = rbind(c(0, 5, 3), c(4, 0, 2))),
  list(name = "2x3 zero margin column",
       table = rbind(c(3, 0, 2), c(1, 0, 6))),
  list(name = "3x2 only one non-empty row",
       table = rbind(c(3, 4), c(0, 0), c(0, 0))),
  list(name = "3x3 symmetric (ties)",
       table = rbind(c(2, 1, 1), c(1, 2, 1), c(1, 1, 2))),
  list(name = "3x3 mixed",
       table = rbind(c(8, 2, 1), c(3, 6, 2), c(1, 3, 7))),
  list(name = "3x3 zero margin row",
       table = rbind(c(2, 3, 1), c(0, 0, 0), c(4, 1, 5))),
  list(name = "4x3 n=48",
       table = rbind(c(9, 2, 1), c(5, 4, 3), c(2, 5, 5), c(1, 3, 8))),
  list(name = "4x3 n=48 near null",
       table = rbind(c(4, 4, 4), c(5, 3, 4), c(4, 4, 4), c(3, 5, 4))),
  list(name = "2x3 very unbalanced",
       table = rbind(c(40, 2, 1), c(0, 1, 4))),
  list(name = "3x2 very unbalanced",
       table = rbind(c(30, 0), c(1, 1), c(0, 3)))
)

fisher <- lapply(tables, function(t) {
  m <- t$table
  storage.mode(m) <- "integer"
  list(name = t$name, table = m, p_value = fisher.test(m)$p.value)
})

binom_pairs <- list(
  c(0, 10), c(10, 10), c(1, 48), c(7, 15), c(24, 48), c(3, 7), c(0, 1), c(1, 1), c(13, 29)
)
binom <- lapply(binom_pairs, function(kn) {
  ci <- binom.test(kn[1], kn[2], conf.level = 0.95)$conf.int
  list(k = as.integer(kn[1]), n = as.integer(kn[2]), conf_level = 0.95,
       lower = ci[1], upper = ci[2])
})
binom_90 <- binom.test(5, 20, conf.level = 0.90)$conf.int
binom[[length(binom) + 1L]] <- list(k = 5L, n = 20L, conf_level = 0.90,
                                    lower = binom_90[1], upper = binom_90[2])

out <- list(
  generator = "tests/reference/make_exact_reference.R",
  r_version_string = R.version.string,
  r_version = paste0(R.version$major, ".", R.version$minor),
  r_status = R.version$status,
  r_svn_rev = R.version[["svn rev"]],
  jsonlite_version = as.character(packageVersion("jsonlite")),
  fisher = fisher,
  binom = binom
)

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, matrix = "rowmajor"),
           out_path, useBytes = TRUE)
message("wrote ", out_path)
