package dev.wirewatch.bench;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.AnalyzerWrapper;
import org.apache.lucene.analysis.core.KeywordAnalyzer;
import org.apache.lucene.analysis.miscellaneous.PerFieldAnalyzerWrapper;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.monitor.MatchingQueries;
import org.apache.lucene.monitor.Monitor;
import org.apache.lucene.monitor.MonitorConfiguration;
import org.apache.lucene.monitor.MonitorQuery;
import org.apache.lucene.monitor.MultipassTermFilteredPresearcher;
import org.apache.lucene.monitor.Presearcher;
import org.apache.lucene.monitor.QueryMatch;
import org.apache.lucene.monitor.TermFilteredPresearcher;
import org.apache.lucene.queryparser.classic.MultiFieldQueryParser;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.queryparser.classic.QueryParser;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.MatchAllDocsQuery;
import org.apache.lucene.search.Query;

/**
 * Lucene Monitor (formerly Luwak) as the peer of Wirewatch's rule matcher.
 *
 * <p>Rules come in as {@code id<TAB>query} lines (query strings already rendered by
 * {@code wirewatch.processors.query.to_query_string}); items as a TSV whose header names
 * the fields, multi-valued fields joined by U+001F. Queries are parsed by the classic
 * MultiFieldQueryParser over the default fields with default operator OR, as Elasticsearch's
 * query_string does. Each item is matched alone, single-threaded, after a warm-up pass.
 *
 * <p>Output: a first line {@code #stats key=value ...}, then {@code itemId<TAB>ruleId ruleId...}.
 */
public final class MonitorBench {
  private MonitorBench() {}

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = parseArgs(argv);
    Path rulesPath = Path.of(require(args, "rules"));
    Path itemsPath = Path.of(require(args, "items"));
    Path outPath = Path.of(require(args, "out"));
    String[] defaultFields = args.getOrDefault("default-fields", "search.title,search.body").split(",");
    Set<String> keywordFields = new HashSet<>(Arrays.asList(args.getOrDefault("keyword-fields", "").split(",")));
    keywordFields.remove("");
    int warmups = Integer.parseInt(args.getOrDefault("warmup", "1"));
    int passes = Integer.parseInt(args.getOrDefault("passes", "1"));
    String presearcherName = args.getOrDefault("presearcher", "term");

    Map<String, Analyzer> perField = new HashMap<>();
    for (String f : keywordFields) {
      perField.put(f, new KeywordAnalyzer());
    }
    Analyzer analyzer = withValueGap(new PerFieldAnalyzerWrapper(new StandardAnalyzer(), perField));
    Presearcher presearcher = "multipass".equals(presearcherName)
        ? new MultipassTermFilteredPresearcher(2)
        : new TermFilteredPresearcher();

    List<String> ruleLines = Files.readAllLines(rulesPath, StandardCharsets.UTF_8);
    List<MonitorQuery> queries = new ArrayList<>();
    List<String> parseErrors = new ArrayList<>();
    for (String line : ruleLines) {
      if (line.isEmpty()) continue;
      int tab = line.indexOf('\t');
      String id = line.substring(0, tab);
      String text = line.substring(tab + 1);
      QueryParser parser = new EsLikeParser(defaultFields, analyzer);
      parser.setDefaultOperator(QueryParser.Operator.OR);
      parser.setSplitOnWhitespace(true);
      try {
        Query q = parser.parse(text);
        queries.add(new MonitorQuery(id, q));
      } catch (ParseException | RuntimeException e) {
        parseErrors.add(id + ": " + e.getMessage().split("\n")[0]);
      }
    }

    List<String> itemLines = Files.readAllLines(itemsPath, StandardCharsets.UTF_8);
    String[] header = itemLines.get(0).split("\t", -1);
    List<String> ids = new ArrayList<>();
    List<Document> docs = new ArrayList<>();
    for (String line : itemLines.subList(1, itemLines.size())) {
      if (line.isEmpty()) continue;
      String[] cols = line.split("\t", -1);
      Document doc = new Document();
      for (int i = 1; i < header.length; i++) {
        for (String value : cols[i].split("\u001f", -1)) {
          if (value.isEmpty()) continue;
          if (keywordFields.contains(header[i])) {
            doc.add(new StringField(header[i], value, Field.Store.NO));
          } else {
            doc.add(new TextField(header[i], value, Field.Store.NO));
          }
        }
      }
      ids.add(cols[0]);
      docs.add(doc);
    }

    long t0 = System.nanoTime();
    Monitor monitor = new Monitor(analyzer, presearcher, new MonitorConfiguration());
    monitor.register(queries);
    double registerMs = (System.nanoTime() - t0) / 1e6;

    for (int w = 0; w < warmups; w++) {
      for (Document doc : docs) {
        monitor.match(doc, QueryMatch.SIMPLE_MATCHER);
      }
    }
    java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
    List<Set<String>> results = new ArrayList<>();
    long best = Long.MAX_VALUE;
    long bestCpu = Long.MAX_VALUE;
    for (int p = 0; p < passes; p++) {
      results.clear();
      long start = System.nanoTime();
      long cpuStart = threads.getCurrentThreadCpuTime();
      for (Document doc : docs) {
        MatchingQueries<QueryMatch> m = monitor.match(doc, QueryMatch.SIMPLE_MATCHER);
        Set<String> hit = new TreeSet<>();
        for (QueryMatch qm : m.getMatches()) {
          hit.add(qm.getQueryId());
        }
        results.add(hit);
      }
      best = Math.min(best, System.nanoTime() - start);
      bestCpu = Math.min(bestCpu, threads.getCurrentThreadCpuTime() - cpuStart);
    }
    monitor.close();
    double seconds = best / 1e9;

    try (BufferedWriter out = Files.newBufferedWriter(outPath, StandardCharsets.UTF_8)) {
      out.write(String.format(java.util.Locale.ROOT,
          "#stats items=%d queries=%d parse_errors=%d items_per_s=%.1f cpu_items_per_s=%.1f seconds=%.4f"
              + " register_ms=%.1f presearcher=%s%n",
          docs.size(), queries.size(), parseErrors.size(), docs.size() / seconds, docs.size() / (bestCpu / 1e9),
          seconds, registerMs, presearcherName));
      for (String err : parseErrors) {
        out.write("#parse_error " + err.replace('\n', ' ') + "\n");
      }
      for (int i = 0; i < ids.size(); i++) {
        out.write(ids.get(i) + "\t" + String.join(" ", results.get(i)) + "\n");
      }
    }
  }

  /**
   * Elasticsearch's mapping gives multi-valued text fields a position gap of 100, so a phrase
   * never runs from one value into the next; StandardAnalyzer's own gap is 0.
   */
  static Analyzer withValueGap(Analyzer base) {
    return new AnalyzerWrapper(base.getReuseStrategy()) {
      @Override
      protected Analyzer getWrappedAnalyzer(String fieldName) {
        return base;
      }

      @Override
      public int getPositionIncrementGap(String fieldName) {
        return 100;
      }
    };
  }

  /**
   * The classic parser plus what Elasticsearch's query_string adds on top: a boolean query
   * made only of MUST_NOT clauses matches everything else (Queries.fixNegativeQueryIfNeeded).
   */
  static final class EsLikeParser extends MultiFieldQueryParser {
    EsLikeParser(String[] fields, Analyzer analyzer) {
      super(fields, analyzer);
    }

    @Override
    protected Query getBooleanQuery(List<BooleanClause> clauses) throws ParseException {
      Query q = super.getBooleanQuery(clauses);
      if (q instanceof BooleanQuery bq && !bq.clauses().isEmpty()
          && bq.clauses().stream().allMatch(c -> c.getOccur() == BooleanClause.Occur.MUST_NOT)) {
        BooleanQuery.Builder fixed = new BooleanQuery.Builder();
        fixed.add(new MatchAllDocsQuery(), BooleanClause.Occur.FILTER);
        for (BooleanClause c : bq.clauses()) {
          fixed.add(c);
        }
        return fixed.build();
      }
      return q;
    }
  }

  private static Map<String, String> parseArgs(String[] argv) {
    Map<String, String> out = new HashMap<>();
    for (int i = 0; i + 1 < argv.length; i += 2) {
      if (!argv[i].startsWith("--")) throw new IllegalArgumentException("bad argument: " + argv[i]);
      out.put(argv[i].substring(2), argv[i + 1]);
    }
    return out;
  }

  private static String require(Map<String, String> args, String name) {
    String v = args.get(name);
    if (v == null) {
      System.err.println("lucene-monitor-bench: missing --" + name);
      System.exit(2);
    }
    return v;
  }
}
