import java.lang.reflect.Field;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.apache.lucene.analysis.standard.StandardTokenizerImpl;

/** Dumps what Wirewatch's analysis needs from Lucene itself, as JSON on stdout.
 *
 * cmap: StandardTokenizerImpl's code point -> DFA input class (runs of equal class),
 * fold: ASCIIFoldingFilter.foldToASCII of every BMP char it changes,
 * lower: Character.toLowerCase of every code point it changes (LowerCaseFilter's mapping).
 */
public class LuceneTables {
  public static void main(String[] args) throws Exception {
    int[] top = (int[]) field("ZZ_CMAP_TOP").get(null);
    int[] blocks = (int[]) field("ZZ_CMAP_BLOCKS").get(null);
    StringBuilder out = new StringBuilder("{\"cmap\": [");
    int runStart = 0, runClass = blocks[top[0]];
    for (int cp = 1; cp <= 0x110000; cp++) {
      int cls = cp <= 0x10FFFF ? blocks[top[cp >> 8] | (cp & 0xFF)] : -1;
      if (cls != runClass) {
        out.append(runStart == 0 ? "" : ", ").append("[").append(runStart).append(", ").append(cp - 1).append(", ").append(runClass).append("]");
        runStart = cp;
        runClass = cls;
      }
    }
    out.append("],\n\"fold\": {");
    char[] in = new char[1];
    char[] folded = new char[8];
    boolean first = true;
    for (int c = 0x80; c <= 0xFFFF; c++) {
      in[0] = (char) c;
      int len = ASCIIFoldingFilter.foldToASCII(in, 0, folded, 0, 1);
      String s = new String(folded, 0, len);
      if (!s.equals(String.valueOf((char) c))) {
        out.append(first ? "" : ", ").append("\"").append(c).append("\": \"").append(escape(s)).append("\"");
        first = false;
      }
    }
    out.append("},\n\"lower\": {");
    first = true;
    for (int cp = 0; cp <= 0x10FFFF; cp++) {
      int lower = Character.toLowerCase(cp);
      if (lower != cp) {
        out.append(first ? "" : ", ").append("\"").append(cp).append("\": ").append(lower);
        first = false;
      }
    }
    out.append("},\n\"java\": \"").append(System.getProperty("java.version")).append("\"}\n");
    System.out.print(out);
  }

  private static Field field(String name) throws Exception {
    Field f = StandardTokenizerImpl.class.getDeclaredField(name);
    f.setAccessible(true);
    return f;
  }

  private static String escape(String s) {
    StringBuilder b = new StringBuilder();
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.toString();
  }
}
