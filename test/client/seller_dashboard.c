/*
 * seller_dashboard.c
 *	  A seller's dashboard read through libpq, the way a seller's own login
 *	  role would read it; test/sql/security_client.sh builds and runs it.
 *
 * Usage: seller_dashboard CONNINFO SELLER_ID FROM_DAY TO_DAY
 *
 * CONNINFO is a libpq connection string or URI ("" for the PG* environment
 * alone; what it leaves out comes from the environment).  The program reads
 * seller_analytics.sellers, events, seller_daily_metrics and
 * seller_daily_traffic with no seller filter of its own: row-level security
 * alone decides which rows come back.  The whole views are read with the
 * simple query protocol (PQexec); the dashboard of the days FROM_DAY to
 * TO_DAY with the extended protocol (PQexecParams, the days as parameters).
 *
 * Output on stdout, one section per query: a line "-- NAME", then one line
 * per row, the columns as the server's text output separated by '|', NULL as
 * \N, in a stable order (every query sorts).  That is what
 * `psql -At -F'|' -P 'null=\N'` prints for the same query, so the test can
 * compare this output with the superuser's answer to the same query with an
 * explicit WHERE seller_id = SELLER_ID.
 *
 * Every query's first column is seller_id: every row must carry SELLER_ID.
 * Exit status: 0 when every row does; 1 when a row belongs to another seller
 * (or has none), with a message on stderr per query; 2 on a usage,
 * connection or query error (the server's message on stderr).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpq-fe.h"

/* one query of the dashboard */
typedef struct DashboardQuery
{
	const char *name;			/* section name in the output */
	const char *sql;			/* first column: seller_id */
	int			by_range;		/* takes $1, $2: the first and last day */
} DashboardQuery;

static const DashboardQuery queries[] = {
	{"sellers",
		"SELECT seller_id, name, category, region, product_type, time_zone "
		"FROM seller_analytics.sellers ORDER BY seller_id", 0},
	{"events",
		"SELECT seller_id, event_id, event_type, occurred_at, session_id, "
		"traffic_source, amount, quantity "
		"FROM seller_analytics.events ORDER BY seller_id, event_id", 0},
	{"daily_metrics",
		"SELECT seller_id, day, sessions, page_views, add_to_carts, orders, "
		"units, revenue, refunds, refund_amount, order_value, conversion_rate, "
		"avg_order_value "
		"FROM seller_analytics.seller_daily_metrics ORDER BY seller_id, day", 0},
	{"daily_traffic",
		"SELECT seller_id, day, traffic_source, sessions, page_views, orders, "
		"revenue, conversion_rate, avg_order_value "
		"FROM seller_analytics.seller_daily_traffic "
		"ORDER BY seller_id, day, traffic_source", 0},
	{"range_metrics",
		"SELECT seller_id, day, sessions, orders, revenue, conversion_rate, "
		"avg_order_value "
		"FROM seller_analytics.seller_daily_metrics "
		"WHERE day BETWEEN $1::date AND $2::date ORDER BY seller_id, day", 1},
	{"range_traffic",
		"SELECT seller_id, traffic_source, sum(sessions), sum(page_views), "
		"sum(orders), sum(revenue) "
		"FROM seller_analytics.seller_daily_traffic "
		"WHERE day BETWEEN $1::date AND $2::date "
		"GROUP BY seller_id, traffic_source ORDER BY seller_id, traffic_source", 1},
	{"range_percentiles",
		"SELECT seller_id, seller_analytics.approx_percentile("
		"seller_analytics.percentile_merge(order_value), ARRAY[0.5, 0.9]) "
		"FROM seller_analytics.seller_daily_metrics "
		"WHERE day BETWEEN $1::date AND $2::date "
		"GROUP BY seller_id ORDER BY seller_id", 1},
};

/*
 * Parses a seller id the way the server prints a bigint; 0 when the text is
 * not one.
 */
static int
parse_seller_id(const char *text, int64_t *id)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		return 0;
	*id = (int64_t) v;
	return 1;
}

/*
 * Prints a result's rows as NAME's section and counts the rows whose first
 * column is not the expected seller; returns that count.
 */
static long
print_rows(const char *name, const PGresult *res, int64_t seller_id)
{
	int			nrows = PQntuples(res);
	int			ncols = PQnfields(res);
	long		foreign = 0;

	printf("-- %s\n", name);
	for (int row = 0; row < nrows; row++)
	{
		int64_t		id;

		for (int col = 0; col < ncols; col++)
		{
			if (col > 0)
				putchar('|');
			fputs(PQgetisnull(res, row, col) ? "\\N" : PQgetvalue(res, row, col), stdout);
		}
		putchar('\n');
		if (PQgetisnull(res, row, 0) ||
			!parse_seller_id(PQgetvalue(res, row, 0), &id) || id != seller_id)
		{
			if (foreign == 0)
				fprintf(stderr, "seller_dashboard: %s: row %d has seller_id %s, expected %" PRId64 "\n",
						name, row + 1,
						PQgetisnull(res, row, 0) ? "NULL" : PQgetvalue(res, row, 0), seller_id);
			foreign++;
		}
	}
	if (foreign > 1)
		fprintf(stderr, "seller_dashboard: %s: %ld of %d rows are not seller %" PRId64 "'s\n",
				name, foreign, nrows, seller_id);
	return foreign;
}

/*
 * Runs one query, through PQexecParams with the two days when it takes them,
 * else through PQexec; NULL (the error on stderr) when it fails.
 */
static PGresult *
run_query(PGconn *conn, const DashboardQuery *q, const char *from_day, const char *to_day)
{
	PGresult   *res;

	if (q->by_range)
	{
		const char *values[2] = {from_day, to_day};

		res = PQexecParams(conn, q->sql, 2, NULL, values, NULL, NULL, 0);
	}
	else
		res = PQexec(conn, q->sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "seller_dashboard: %s: %s", q->name, PQerrorMessage(conn));
		PQclear(res);
		return NULL;
	}
	return res;
}

int
main(int argc, char **argv)
{
	const char *keywords[] = {"dbname", "fallback_application_name", NULL};
	const char *values[] = {NULL, "seller_dashboard", NULL};
	PGconn	   *conn;
	PGresult   *res;
	int64_t		seller_id;
	long		foreign = 0;

	if (argc != 5 || !parse_seller_id(argv[2], &seller_id))
	{
		fprintf(stderr, "usage: seller_dashboard CONNINFO SELLER_ID FROM_DAY TO_DAY\n");
		return 2;
	}
	values[0] = argv[1];
	conn = PQconnectdbParams(keywords, values, 1);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "seller_dashboard: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 2;
	}
	/* times printed the same whatever the server's or the environment's zone */
	res = PQexec(conn, "SET TimeZone = 'UTC'");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "seller_dashboard: %s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return 2;
	}
	PQclear(res);

	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++)
	{
		res = run_query(conn, &queries[i], argv[3], argv[4]);
		if (res == NULL)
		{
			PQfinish(conn);
			return 2;
		}
		foreign += print_rows(queries[i].name, res, seller_id);
		PQclear(res);
	}
	PQfinish(conn);
	if (fflush(stdout) != 0)
	{
		perror("seller_dashboard: stdout");
		return 2;
	}
	if (foreign > 0)
	{
		fprintf(stderr, "seller_dashboard: %ld rows of other sellers than %" PRId64 "\n",
				foreign, seller_id);
		return 1;
	}
	return 0;
}
