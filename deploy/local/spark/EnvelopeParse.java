package steam_platform.lake;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.time.DateTimeException;
import java.time.LocalDate;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * Bronze's envelope parser: one Kafka value (the JSON envelope's UTF-8 bytes) to the envelope's
 * fields, in one pass of Jackson's byte parser, as a Spark row ({@link #RESULT}).
 *
 * <p>Spark's own {@code from_json} wraps every record in a reader (an 8 KB buffer per record) and
 * re-serialises the payload object token by token; that was most of a landing's CPU. Here the
 * payload is not parsed at all: the parser skips it and the row's {@code payload} is its bytes as
 * they arrived. A string without escapes is handed to Spark as the bytes it already is (no Java
 * string decoded and encoded again); that and calling it as a Catalyst expression ({@link
 * EnvelopeParseExpression}, no UDF conversion of rows and boxed values) are what make it cheap.
 *
 * <p>Returns null when the value is not one JSON object (malformed, trailing content, another
 * top-level type): bronze quarantines it. String fields take a JSON string as its text, another
 * scalar as its literal text, an object or array as its JSON text (as {@code from_json} would);
 * {@code schema_version} is an int only when the JSON holds an integer that fits. {@code
 * payload_state} is {@link #OBJECT} (and {@code payload} its bytes), {@link #MISSING} when there
 * is no payload or it is null, {@link #NOT_AN_OBJECT} when it is anything but an object. A key
 * given twice keeps its last value. {@code observed_micros} is {@code observed_at} in microseconds
 * since the epoch when it has the form producers write ({@code 2026-10-01T23:59:59.123456Z}: UTC,
 * 0-6 fraction digits), else null and Spark's own timestamp cast reads the text (other forms,
 * offsets, invalid dates).
 */
public final class EnvelopeParse {
  private static final JsonFactory FACTORY = new JsonFactory();

  /** {@code payload_state}: the payload is a JSON object. */
  public static final int OBJECT = 0;

  /** {@code payload_state}: the envelope has no payload, or a JSON null. */
  public static final int MISSING = -1;

  /** {@code payload_state}: the payload is a string, number, boolean or array. */
  public static final int NOT_AN_OBJECT = -2;

  /** The parsed envelope's columns (streaming/envelope_parse.py reads them by name). */
  public static final StructType RESULT =
      new StructType(
          new StructField[] {
            DataTypes.createStructField("event_id", DataTypes.StringType, true),
            DataTypes.createStructField("schema_version", DataTypes.IntegerType, true),
            DataTypes.createStructField("source", DataTypes.StringType, true),
            DataTypes.createStructField("observed_at", DataTypes.StringType, true),
            DataTypes.createStructField("partition_key", DataTypes.StringType, true),
            DataTypes.createStructField("payload", DataTypes.StringType, true),
            DataTypes.createStructField("payload_state", DataTypes.IntegerType, false),
            DataTypes.createStructField("observed_micros", DataTypes.LongType, true),
          });

  private EnvelopeParse() {}

  /** The envelope in {@code value} as a {@link #RESULT} row; null when it is not one JSON object. */
  public static InternalRow parse(byte[] value) {
    if (value == null) {
      return null;
    }
    try {
      return parseObject(value);
    } catch (IOException malformed) { // Jackson's parse errors; a byte array has no other I/O
      return null;
    }
  }

  private static InternalRow parseObject(byte[] value) throws IOException {
    Object[] row = new Object[RESULT.size()];
    row[6] = MISSING;
    try (JsonParser parser = FACTORY.createParser(value)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      JsonToken token;
      while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
        String name = parser.currentName();
        JsonToken field = parser.nextToken();
        switch (name) {
          case "event_id":
            row[0] = text(parser, field, value);
            break;
          case "source":
            row[2] = text(parser, field, value);
            break;
          case "observed_at":
            UTF8String observed = text(parser, field, value);
            row[3] = observed;
            row[7] = field == JsonToken.VALUE_STRING ? utcMicros(observed.getBytes()) : null;
            break;
          case "partition_key":
            row[4] = text(parser, field, value);
            break;
          case "schema_version":
            row[1] = integer(parser, field);
            break;
          case "payload":
            if (field == JsonToken.START_OBJECT) {
              row[5] = structure(parser, value);
              row[6] = OBJECT;
            } else {
              row[5] = null;
              row[6] = field == JsonToken.VALUE_NULL ? MISSING : NOT_AN_OBJECT;
              parser.skipChildren();
            }
            break;
          default:
            parser.skipChildren();
        }
      }
      if (token != JsonToken.END_OBJECT || parser.nextToken() != null) {
        return null;
      }
    }
    return new GenericInternalRow(row);
  }

  /** A string field's value: text of a scalar, JSON text of an object or array, null for null. */
  private static UTF8String text(JsonParser parser, JsonToken token, byte[] value)
      throws IOException {
    if (token == JsonToken.VALUE_NULL) {
      return null;
    }
    if (token == JsonToken.VALUE_STRING) {
      return string(parser, value);
    }
    if (token.isScalarValue()) {
      return UTF8String.fromString(parser.getText());
    }
    return structure(parser, value);
  }

  /**
   * The current JSON string: its bytes in {@code value} when it holds no escape (Jackson has then
   * checked they are valid UTF-8), else the text Jackson decoded.
   */
  private static UTF8String string(JsonParser parser, byte[] value) throws IOException {
    int quote = (int) parser.currentTokenLocation().getByteOffset();
    parser.finishToken();
    int end = (int) parser.currentLocation().getByteOffset() - 1;
    if (quote >= 0 && end > quote && value[quote] == '"' && value[end] == '"') {
      boolean escaped = false;
      for (int i = quote + 1; i < end && !escaped; i++) {
        escaped = value[i] == '\\';
      }
      if (!escaped) {
        return UTF8String.fromBytes(value, quote + 1, end - quote - 1);
      }
    }
    return UTF8String.fromString(parser.getText());
  }

  /** The object or array the parser is on, as the bytes it spans in {@code value}. */
  private static UTF8String structure(JsonParser parser, byte[] value) throws IOException {
    int start = (int) parser.currentTokenLocation().getByteOffset();
    parser.skipChildren();
    int end = (int) parser.currentLocation().getByteOffset();
    return UTF8String.fromBytes(value, start, end - start);
  }

  /**
   * {@code yyyy-MM-ddTHH:mm:ss[.f{1,6}]Z} (UTF-8 bytes) as microseconds since the epoch; null for
   * anything else (Spark's cast then decides, so a time is never read differently from how Spark
   * reads it).
   */
  public static Long utcMicros(byte[] text) {
    int n = text.length;
    if (n < 20 || n > 27 || text[n - 1] != 'Z' || text[4] != '-' || text[7] != '-'
        || text[10] != 'T' || text[13] != ':' || text[16] != ':') {
      return null;
    }
    int year = digits(text, 0, 4);
    int month = digits(text, 5, 7);
    int day = digits(text, 8, 10);
    int hour = digits(text, 11, 13);
    int minute = digits(text, 14, 16);
    int second = digits(text, 17, 19);
    long fraction = 0;
    if (n > 20) {
      if (text[19] != '.' || n == 21) {
        return null;
      }
      int parsed = digits(text, 20, n - 1);
      if (parsed < 0) {
        return null;
      }
      fraction = parsed;
      for (int i = n - 21; i < 6; i++) {
        fraction *= 10;
      }
    }
    if (year < 0 || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59
        || second < 0 || second > 59) {
      return null;
    }
    long epochDay;
    try {
      epochDay = LocalDate.of(year, month, day).toEpochDay();
    } catch (DateTimeException invalid) {
      return null;
    }
    long seconds = epochDay * 86_400L + hour * 3_600L + minute * 60L + second;
    return seconds * 1_000_000L + fraction;
  }

  /** The decimal number in {@code text[from, to)}, or -1 when a byte is not a digit. */
  private static int digits(byte[] text, int from, int to) {
    int value = 0;
    for (int i = from; i < to; i++) {
      byte c = text[i];
      if (c < '0' || c > '9') {
        return -1;
      }
      value = value * 10 + (c - '0');
    }
    return value;
  }

  /** An int field's value: an integer that fits, else null (a structure is skipped). */
  private static Integer integer(JsonParser parser, JsonToken token) throws IOException {
    if (token == JsonToken.VALUE_NUMBER_INT
        && parser.getNumberType() == JsonParser.NumberType.INT) {
      return parser.getIntValue();
    }
    parser.skipChildren();
    return null;
  }
}
