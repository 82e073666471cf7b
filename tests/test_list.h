/* test_list.h - every area's table of tests; each test_<area>.c defines one. */
#ifndef SP_TEST_LIST_H
#define SP_TEST_LIST_H

#include "test.h"

extern const sp_test tests_core[];
extern const sp_test tests_formats[];
extern const sp_test tests_keyed[];
extern const sp_test tests_ops[];
extern const sp_test tests_connectors[];
extern const sp_test tests_engine[];
extern const sp_test tests_time[];
extern const sp_test tests_windows[];
extern const sp_test tests_dstream[];
extern const sp_test tests_timers[];
extern const sp_test tests_oracle[];
extern const sp_test tests_vectorized[];
extern const sp_test tests_ckpt_rt[];
extern const sp_test tests_ckpt_store[];
extern const sp_test tests_state_ops[];
extern const sp_test tests_ckpt_connectors[];
extern const sp_test tests_ckpt_keyed[];
extern const sp_test tests_ckpt_dstream[];
extern const sp_test tests_ckpt_windows[];
extern const sp_test tests_state_ttl[];
extern const sp_test tests_sql_parser[];
extern const sp_test tests_sql_expr[];
extern const sp_test tests_sql_funcs[];
extern const sp_test tests_sql[];
extern const sp_test tests_aggs_ext[];
extern const sp_test tests_joins[];

static const sp_test *const sp_test_tables[] = {
    tests_core,   tests_formats,  tests_keyed,   tests_ops,    tests_connectors, tests_engine,
    tests_time,   tests_windows,  tests_dstream, tests_timers, tests_oracle,     tests_vectorized,
    tests_ckpt_rt,    tests_state_ops, tests_ckpt_store, tests_ckpt_keyed, tests_ckpt_connectors,
    tests_ckpt_windows, tests_ckpt_dstream, tests_state_ttl, tests_sql_parser, tests_sql_expr, tests_sql_funcs, tests_sql,
    tests_aggs_ext, tests_joins, NULL};

#endif
