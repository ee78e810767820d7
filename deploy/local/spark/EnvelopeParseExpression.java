package steam_platform.lake;

import java.io.Serializable;
import java.util.List;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.analysis.TypeCheckResult;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.codegen.CodeBlock;
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenContext;
import org.apache.spark.sql.catalyst.expressions.codegen.ExprCode;
import org.apache.spark.sql.catalyst.expressions.codegen.JavaCode;
import org.apache.spark.sql.classic.SparkSession;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataType;
import scala.Function1;
import scala.collection.immutable.IndexedSeq;
import scala.collection.immutable.Seq;
import scala.jdk.javaapi.CollectionConverters;

/**
 * {@code steam_envelope_parse(value)}: {@link EnvelopeParse} as a Catalyst expression, so Spark
 * calls it on the Kafka value's bytes from its generated code and takes its row as is: no UDF
 * conversion of the input, the result's strings or its boxed numbers. {@link #register} adds it to
 * a session's functions (bronze does that before its query starts, streaming/envelope_parse.py).
 */
public final class EnvelopeParseExpression extends Expression implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The name the function is registered under. */
  public static final String NAME = "steam_envelope_parse";

  private final Expression child;
  private final Seq<Expression> children;

  public EnvelopeParseExpression(Expression child) {
    this.child = child;
    this.children = CollectionConverters.asScala(List.of(child)).toList();
  }

  /** The expression for a call with {@code arguments} (the function's builder). */
  public static Expression build(Seq<Expression> arguments) {
    if (arguments.size() != 1) {
      throw new IllegalArgumentException(NAME + " takes one argument: the Kafka value");
    }
    return new EnvelopeParseExpression(arguments.head());
  }

  /** Register {@code steam_envelope_parse} in {@code session}'s function registry. */
  public static void register(SparkSession session) {
    Function1<Seq<Expression>, Expression> builder = EnvelopeParseExpression::build;
    session.sessionState().functionRegistry().createOrReplaceTempFunction(NAME, builder, "java_udf");
  }

  @Override
  public Seq<Expression> children() {
    return children;
  }

  @Override
  public Expression withNewChildrenInternal(IndexedSeq<Expression> newChildren) {
    return new EnvelopeParseExpression(newChildren.apply(0));
  }

  @Override
  public String prettyName() {
    return NAME;
  }

  @Override
  public boolean nullable() {
    return true;
  }

  @Override
  public DataType dataType() {
    return EnvelopeParse.RESULT;
  }

  @Override
  public TypeCheckResult checkInputDataTypes() {
    if (child.dataType() instanceof BinaryType) {
      return TypeCheckResult.TypeCheckSuccess$.MODULE$;
    }
    return new TypeCheckResult.TypeCheckFailure(
        NAME + " reads a Kafka value (binary), not " + child.dataType().simpleString());
  }

  @Override
  public Object eval(InternalRow input) {
    return EnvelopeParse.parse((byte[]) child.eval(input));
  }

  @Override
  public ExprCode doGenCode(CodegenContext ctx, ExprCode ev) {
    ExprCode value = child.genCode(ctx);
    String parse = EnvelopeParse.class.getName() + ".parse";
    List<String> parts =
        List.of(
            "",
            "\nboolean ",
            " = true;\nInternalRow ",
            " = null;\nif (!",
            ") {\n  ",
            " = " + parse + "(",
            ");\n  ",
            " = ",
            " == null;\n}\n");
    List<JavaCode> inputs =
        List.of(
            value.code(), ev.isNull(), ev.value(), value.isNull(), ev.value(), value.value(),
            ev.isNull(), ev.value());
    CodeBlock code =
        new CodeBlock(
            CollectionConverters.asScala(parts).toList(),
            CollectionConverters.asScala(inputs).toList());
    return ev.copy(code, ev.isNull(), ev.value());
  }

  @Override
  public int productArity() {
    return 1;
  }

  @Override
  public Object productElement(int n) {
    if (n != 0) {
      throw new IndexOutOfBoundsException(Integer.toString(n));
    }
    return child;
  }

  @Override
  public boolean canEqual(Object other) {
    return other instanceof EnvelopeParseExpression;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof EnvelopeParseExpression
        && child.equals(((EnvelopeParseExpression) other).child);
  }

  @Override
  public int hashCode() {
    return 31 * EnvelopeParseExpression.class.hashCode() + child.hashCode();
  }
}
